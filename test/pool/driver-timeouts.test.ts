import t from 'tap'
import mysql from 'mysql2/promise'
import { performance } from 'node:perf_hooks'
import { DriverTimeoutError } from '../../lib/errors'
import { QueuePool } from '../../lib/pool'
import type { PoolOptions } from '../../lib/pool/options'
import { startFakeServer, startSilentServer } from '../helpers/fake-server'
import { fakeLogger, threadOf } from '../helpers/pool'

function fakePool (t: { teardown: (fn: () => unknown) => void }, url: string, options: PoolOptions): QueuePool {
  const pool = new QueuePool(() => mysql.createConnection(url), { closeTimeout: 200, ...options })
  t.teardown(() => pool.close())
  return pool
}

t.test('a ping that never answers hits pingTimeout: destroyed, replaced, never reused', async (t) => {
  const server = await startFakeServer({ ping: false })
  t.teardown(() => server.close())
  const logger = fakeLogger()
  const pool = fakePool(t, server.url, { poolSize: 1, maxOverflow: 0, prePing: true, prePingBypass: 0, pingTimeout: 200, logger })
  const invalidated: unknown[] = []
  pool.on('invalidate', (_c, _r, err) => invalidated.push(err))
  const h1 = await pool.connect()
  t.equal(server.pings, 0, 'a fresh connection is not pinged')
  const first = threadOf(h1)
  await h1.close()
  const started = performance.now()
  const h2 = await pool.connect()
  const elapsed = performance.now() - started
  t.ok(elapsed >= 190, `waited for the ping deadline (${elapsed})`)
  t.ok(elapsed < 2000)
  t.equal(server.pings, 1)
  t.not(threadOf(h2), first, 'a new connection')
  t.equal(invalidated.length, 1)
  t.ok(invalidated[0] instanceof DriverTimeoutError)
  t.match(invalidated[0], { code: 'FST_DB_DRIVER_TIMEOUT', operation: 'ping' })
  t.equal(pool.stats().connects, 2)
  await h2.close()
})

t.test('a COM_RESET_CONNECTION that never answers hits resetTimeout', async (t) => {
  const server = await startFakeServer({ reset: false })
  t.teardown(() => server.close())
  const logger = fakeLogger()
  const pool = fakePool(t, server.url, { poolSize: 1, maxOverflow: 0, resetOnReturn: 'reset', resetTimeout: 200, logger })
  const h1 = await pool.connect()
  const first = threadOf(h1)
  await h1.query('SELECT 1')
  const started = performance.now()
  await h1.close() // must not throw
  const elapsed = performance.now() - started
  t.ok(elapsed >= 190 && elapsed < 2000, `close waited for the deadline (${elapsed})`)
  t.equal(server.resets, 1)
  t.equal(logger.at('error').length, 1)
  t.equal(logger.at('error')[0].msg, 'Exception during reset or similar')
  t.equal(pool.stats().invalidations, 1)
  t.equal(pool.checkedin(), 1, 'the slot is back, empty')
  const h2 = await pool.connect()
  t.not(threadOf(h2), first, 'the timed-out connection is never reused')
  await h2.close()
})

t.test('a failing ROLLBACK on return is logged, the connection discarded, nothing thrown', async (t) => {
  const server = await startFakeServer({ query: (sql) => sql === 'ROLLBACK' ? { code: 1105, message: 'rollback exploded' } : 'ok' })
  t.teardown(() => server.close())
  const logger = fakeLogger()
  const pool = fakePool(t, server.url, { poolSize: 1, maxOverflow: 0, logger })
  const events: string[] = []
  for (const ev of ['reset', 'invalidate', 'close', 'checkin'] as const) pool.on(ev, () => events.push(ev))
  const h1 = await pool.connect()
  const first = threadOf(h1)
  await h1.query('INSERT INTO x VALUES (1)')
  await h1.close()
  t.same(events, ['reset', 'invalidate', 'close', 'checkin'], "SQLAlchemy's reset-failure trace")
  t.same(server.queries, ['INSERT INTO x VALUES (1)', 'ROLLBACK'])
  t.equal(logger.at('error').length, 1)
  t.match(logger.at('error')[0].obj, { resetOnReturn: 'rollback' })
  const h2 = await pool.connect()
  t.not(threadOf(h2), first)
  await h2.close()
})

t.test('connectTimeout against a server that never sends the handshake', async (t) => {
  const server = await startSilentServer()
  t.teardown(() => server.close())
  const logger = fakeLogger()
  const pool = fakePool(t, server.url, { poolSize: 1, maxOverflow: 0, connectTimeout: 200, timeout: 5000, logger })
  const started = performance.now()
  const err = await pool.connect().then(() => undefined, (e: unknown) => e) as Error & { code: string, cause: unknown }
  const elapsed = performance.now() - started
  t.ok(elapsed >= 190 && elapsed < 3000, `failed at the deadline (${elapsed})`)
  t.equal(err.code, 'FST_DB_UNAVAILABLE')
  t.ok(err.cause instanceof DriverTimeoutError)
  t.match(err.cause, { operation: 'connect' })
  t.equal(pool.status(), 'Pool size: 1  Connections in pool: 0 Current Overflow: -1 Current Checked out connections: 0')
  t.equal(pool.stats().connectErrors, 1)
})
