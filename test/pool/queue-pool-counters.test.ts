import t from 'tap'
import { QueuePool } from '../../lib/pool'
import type { PooledConnection } from '../../lib/pool'
import mysql from 'mysql2/promise'
import { admin, fakeLogger, realPool, threadOf, until } from '../helpers/pool'
import { aliveThreads, databaseUrl } from '../helpers/db'

const status = (size: number, inPool: number, overflow: number, out: number): string =>
  `Pool size: ${size}  Connections in pool: ${inPool} Current Overflow: ${overflow} Current Checked out connections: ${out}`

t.test('status() and accessors through checkouts and returns (SQLAlchemy numbers)', async (t) => {
  const pool = await realPool(t, QueuePool, { poolSize: 3, maxOverflow: 2 })
  t.equal(pool.status(), status(3, 0, -3, 0))
  t.equal(pool.size(), 3)
  t.equal(pool.timeout(), 30_000)

  const out: PooledConnection[] = []
  const expected = [[-2, 1], [-1, 2], [0, 3], [1, 4], [2, 5]]
  for (const [overflow, n] of expected) {
    out.push(await pool.connect())
    t.equal(pool.status(), status(3, 0, overflow, n), `${n} out`)
  }
  t.equal(pool.checkedout(), 5)
  t.equal(pool.overflow(), 2)
  t.equal(pool.checkedin(), 0)

  // Returning: the first poolSize returned are kept, the rest closed.
  const threads = out.map(threadOf)
  const closed: number[] = []
  pool.on('close', (conn) => closed.push(conn.threadId))
  for (const h of out) await h.close()
  t.equal(pool.status(), status(3, 3, 0, 0))
  t.same(closed, threads.slice(3), 'the last two returned were closed')
  const a = await admin(t)
  await until(async () => (await aliveThreads(a, threads)).length === 3, 5000, 'closed threads to end')
  t.same((await aliveThreads(a, threads)).sort(), threads.slice(0, 3).sort())

  const s = pool.stats()
  t.match(s, { size: 3, checkedIn: 3, checkedOut: 0, overflow: 0, waiting: 0, connects: 5, checkouts: 5, timeouts: 0, connectErrors: 0 })

  // Reuse: no new connections.
  const again = await Promise.all([pool.connect(), pool.connect(), pool.connect()])
  t.equal(pool.stats().connects, 5)
  t.equal(pool.status(), status(3, 0, 0, 3))
  t.same(again.map(threadOf).sort(), threads.slice(0, 3).sort())
  await Promise.all(again.map((h) => h.close()))
  t.equal(pool.status(), status(3, 3, 0, 0))
})

t.test('close() on a handle is idempotent', async (t) => {
  const pool = await realPool(t, QueuePool, { poolSize: 1, maxOverflow: 0 })
  const h = await pool.connect()
  await h.query('SELECT 1')
  const p1 = h.close()
  const p2 = h.close()
  t.equal(p1, p2)
  await p1
  await h.close()
  t.equal(pool.status(), status(1, 1, 0, 0))
  t.equal(h.isValid, false)
  await t.rejects(async () => h.query('SELECT 1'), { code: 'FST_DB_CONNECTION_INVALIDATED' })
})

t.test('a failed connect gives its slot back', async (t) => {
  let fail = true
  const uri = await databaseUrl()
  const pool = new QueuePool(async () => {
    if (fail) throw Object.assign(new Error('refused'), { code: 'ECONNREFUSED' })
    return mysql.createConnection(uri)
  }, { poolSize: 1, maxOverflow: 1, closeTimeout: 200, logger: fakeLogger() })
  t.teardown(() => pool.close())
  await t.rejects(pool.connect(), { code: 'FST_DB_UNAVAILABLE', message: 'Cannot connect to the database (ECONNREFUSED)' })
  t.equal(pool.status(), status(1, 0, -1, 0))
  t.equal(pool.stats().connectErrors, 1)
  fail = false
  const h = await pool.connect()
  t.equal(pool.status(), status(1, 0, 0, 1))
  await h.close()
})

t.test('a failed connect wakes a waiter at once', async (t) => {
  const uri = await databaseUrl()
  let n = 0
  let failNext: ((err: Error) => void) | undefined
  const pool = new QueuePool(() => {
    n++
    if (n === 2) return new Promise((_resolve, reject) => { failNext = reject })
    return mysql.createConnection(uri)
  }, { poolSize: 1, maxOverflow: 1, timeout: 5000, closeTimeout: 200, logger: fakeLogger() })
  t.teardown(() => pool.close())
  const held = await pool.connect()
  const failing = pool.connect() // takes the overflow slot; its connect hangs
  const waiter = pool.connect() // at the limit: waits
  t.equal(pool.stats().waiting, 1)
  const started = Date.now()
  await until(() => failNext !== undefined)
  failNext?.(Object.assign(new Error('nope'), { code: 'ECONNRESET' }))
  await t.rejects(failing, { code: 'FST_DB_UNAVAILABLE' })
  const h = await waiter
  t.ok(Date.now() - started < 2000, 'the waiter did not wait for its timeout')
  t.equal(pool.status(), status(1, 0, 1, 2))
  await h.close()
  await held.close()
  t.equal(pool.status(), status(1, 1, 0, 0))
})

t.test('poolSize 0 means unbounded: never waits, never discards', async (t) => {
  const pool = await realPool(t, QueuePool, { poolSize: 0, maxOverflow: 0, timeout: 0 })
  const hs = await Promise.all(Array.from({ length: 6 }, () => pool.connect()))
  t.equal(pool.checkedout(), 6)
  t.equal(pool.overflow(), 0)
  for (const h of hs) await h.close()
  t.equal(pool.checkedin(), 6)
  t.equal(pool.status(), status(0, 6, 0, 0))
})

t.test('maxOverflow -1 is unlimited', async (t) => {
  const pool = await realPool(t, QueuePool, { poolSize: 1, maxOverflow: -1, timeout: 0 })
  const hs = await Promise.all(Array.from({ length: 4 }, () => pool.connect()))
  t.equal(pool.status(), status(1, 0, 3, 4))
  for (const h of hs) await h.close()
  t.equal(pool.status(), status(1, 1, 0, 0))
})
