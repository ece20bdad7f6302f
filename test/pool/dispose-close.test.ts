import t from 'tap'
import { performance } from 'node:perf_hooks'
import { PoolClosedError } from '../../lib/errors'
import { QueuePool } from '../../lib/pool'
import { aliveThreads } from '../helpers/db'
import { admin, fakeLogger, realPool, sleep, threadOf, until } from '../helpers/pool'

const status = (size: number, inPool: number, overflow: number, out: number): string =>
  `Pool size: ${size}  Connections in pool: ${inPool} Current Overflow: ${overflow} Current Checked out connections: ${out}`

t.test('dispose() closes idle connections, resets counters, the pool stays usable', async (t) => {
  const a = await admin(t)
  const pool = await realPool(t, QueuePool, { poolSize: 2, maxOverflow: 1 })
  const hs = await Promise.all([pool.connect(), pool.connect()])
  const ids = hs.map(threadOf)
  for (const h of hs) await h.close()
  await pool.dispose()
  t.equal(pool.status(), status(2, 0, -2, 0))
  t.match(pool.stats(), { connects: 0, checkouts: 0 })
  await until(async () => (await aliveThreads(a, ids)).length === 0, 5000, 'idle connections closed')
  const h = await pool.connect()
  t.notOk(ids.includes(threadOf(h)))
  await h.close()
  t.equal(pool.status(), status(2, 1, -1, 0))
})

t.test('dispose() forgets checked-out connections (SQLAlchemy quirk)', async (t) => {
  const pool = await realPool(t, QueuePool, { poolSize: 2, maxOverflow: 0 })
  const first = await Promise.all([pool.connect(), pool.connect()])
  await pool.dispose()
  const second = await Promise.all([pool.connect(), pool.connect()])
  t.equal(pool.status(), status(2, 0, 0, 2))
  for (const h of [...first, ...second]) await h.close()
  // Our pool closes the pre-dispose slots when they come back instead of keeping them.
  t.equal(pool.checkedin(), 2)
  t.equal(pool.checkedout(), 0)
})

t.test('close() rejects waiters, waits for checked-out connections, then closes all', async (t) => {
  const a = await admin(t)
  const pool = await realPool(t, QueuePool, { poolSize: 1, maxOverflow: 1, timeout: 10_000, closeTimeout: 5000 })
  const [h1, h2] = await Promise.all([pool.connect(), pool.connect()])
  const ids = [threadOf(h1), threadOf(h2)]
  await h2.close()
  const h3 = await pool.connect()
  const waiter = pool.connect()
  const closing = pool.close()
  await t.rejects(waiter, PoolClosedError)
  await t.rejects(pool.connect(), { code: 'FST_DB_POOL_CLOSED' })
  let done = false
  void closing.then(() => { done = true })
  await sleep(100)
  t.equal(done, false, 'close() waits for checked-out connections')
  t.equal(await h1.query('SELECT 1').then(() => 'ok'), 'ok', 'checked-out connections keep working')
  await h1.close()
  await h3.close()
  await closing
  t.equal(pool.closed, true)
  await until(async () => (await aliveThreads(a, ids)).length === 0, 5000, 'all connections closed')
  await t.rejects(pool.connect(), PoolClosedError)
  await pool.close() // idempotent
})

t.test('close() is bounded by closeTimeout', async (t) => {
  const logger = fakeLogger()
  const pool = await realPool(t, QueuePool, { poolSize: 1, maxOverflow: 0, closeTimeout: 200, logger })
  const h = await pool.connect()
  const started = performance.now()
  await pool.close()
  const elapsed = performance.now() - started
  t.ok(elapsed >= 190 && elapsed < 3000, `closed after the deadline (${elapsed})`)
  t.ok(logger.at('warn').some((c) => /still checked out/.test(c.msg ?? '')))
  await t.rejects(async () => h.query('SELECT 1'))
  await h.close()
})

t.test('dispose() after close() began is a no-op', async (t) => {
  const pool = await realPool(t, QueuePool, { poolSize: 2, maxOverflow: 0 })
  const h = await pool.connect()
  const closing = pool.close()
  await pool.dispose()
  t.match(pool.stats(), { checkedOut: 1 }, 'the checked-out connection is still counted')
  await h.close()
  await closing
  t.equal(pool.checkedout(), 0)
})
