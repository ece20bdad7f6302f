import t from 'tap'
import mysql from 'mysql2/promise'
import { performance } from 'node:perf_hooks'
import { PoolTimeoutError } from '../../lib/errors'
import { QueuePool } from '../../lib/pool'
import { databaseUrl } from '../helpers/db'
import { fakeLogger, realPool } from '../helpers/pool'

t.test('a checkout at the limit times out no earlier than timeout, with the exact message', async (t) => {
  const logger = fakeLogger()
  const pool = await realPool(t, QueuePool, { poolSize: 2, maxOverflow: 1, timeout: 300, logger })
  const held = await Promise.all([pool.connect(), pool.connect(), pool.connect()])
  const started = performance.now()
  const err = await pool.connect().then(() => undefined, (e: unknown) => e)
  const elapsed = performance.now() - started
  t.ok(elapsed >= 300, `elapsed ${elapsed} >= 300`)
  t.ok(elapsed < 1500, `elapsed ${elapsed} not far beyond the timeout`)
  t.ok(err instanceof PoolTimeoutError)
  const e = err as PoolTimeoutError
  t.equal(e.message, 'QueuePool limit of size 2 overflow 1 reached, connection timed out, timeout 0.30')
  t.equal(e.code, 'FST_DB_POOL_TIMEOUT')
  t.equal(e.statusCode, 503)
  t.match(e.stats, { size: 2, checkedOut: 3, overflow: 1, timeouts: 1 })
  t.equal(e.cause, undefined, 'no connect error, no cause')
  t.equal(pool.stats().timeouts, 1)
  t.equal(pool.stats().waiting, 0)
  t.ok(logger.at('warn').some((c) => c.msg === e.message), 'timeout logged at warn')
  t.ok(logger.at('warn').some((c) => /saturated/.test(c.msg ?? '')), 'saturation logged')
  for (const h of held) await h.close()
})

t.test('timeout 0 fails at once', async (t) => {
  const pool = await realPool(t, QueuePool, { poolSize: 1, maxOverflow: 0, timeout: 0 })
  const h = await pool.connect()
  const started = performance.now()
  await t.rejects(pool.connect(), { code: 'FST_DB_POOL_TIMEOUT', message: 'QueuePool limit of size 1 overflow 0 reached, connection timed out, timeout 0.00' })
  t.ok(performance.now() - started < 100)
  await h.close()
})

t.test('the timeout carries the last connect error as cause', async (t) => {
  const uri = await databaseUrl()
  let n = 0
  const refused = Object.assign(new Error('connect refused'), { code: 'ECONNREFUSED' })
  const pool = new QueuePool(async () => {
    if (++n === 2) throw refused
    return mysql.createConnection(uri)
  }, { poolSize: 1, maxOverflow: 0, timeout: 100, closeTimeout: 200, logger: fakeLogger() })
  t.teardown(() => pool.close())
  const h = await pool.connect()
  // Invalidate: the slot stays (checked in, empty); the next checkout reconnects and fails.
  h.invalidate()
  await t.rejects(pool.connect(), { code: 'FST_DB_UNAVAILABLE' })
  const h2 = await pool.connect()
  const err = await pool.connect().then(() => undefined, (e: unknown) => e) as PoolTimeoutError
  t.equal(err.code, 'FST_DB_POOL_TIMEOUT')
  t.equal(err.cause, refused)
  await h2.close()
})

t.test('a waiter is served by a return, and does not time out afterwards', async (t) => {
  const pool = await realPool(t, QueuePool, { poolSize: 1, maxOverflow: 0, timeout: 1000 })
  const h = await pool.connect()
  const waiting = pool.connect()
  setTimeout(() => { h.close().catch(() => {}) }, 50)
  const h2 = await waiting
  t.equal(h2.isValid, true)
  await new Promise((resolve) => setTimeout(resolve, 1100))
  t.equal(pool.stats().timeouts, 0)
  await h2.close()
})
