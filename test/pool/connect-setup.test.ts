/**
 * Connection set-up: `onConnect` (and a throwing `connect` listener) run before a new connection's
 * first hand-out; a failure closes that connection, fails that checkout, frees its slot and leaves
 * the pool usable; every connection handed out afterwards has the set-up applied. And invalidate()
 * without an error fires `invalidate` without one.
 */
import t from 'tap'
import type { RowDataPacket } from 'mysql2'
import { DatabaseUnavailableError, DriverTimeoutError } from '../../lib'
import { QueuePool, type DriverConnection } from '../../lib/pool'
import { resolvePoolOptions } from '../../lib/pool/options'
import { aliveThreads } from '../helpers/db'
import { admin, fakeLogger, realPool, until } from '../helpers/pool'
import { buildApp } from '../plugin/_helpers'

const timeZone = async (conn: { query: DriverConnection['query'] }): Promise<string> =>
  String((await conn.query<RowDataPacket[]>('SELECT @@session.time_zone AS tz'))[0][0].tz)

t.test('onConnect fails, then recovers: one checkout fails, the pool is not blocked', async (t) => {
  const db = await admin(t)
  const threads: number[] = []
  let calls = 0
  const logger = fakeLogger()
  const pool = await realPool(t, QueuePool, {
    poolSize: 1,
    maxOverflow: 0,
    logger,
    async onConnect (conn) {
      threads.push(conn.threadId)
      if (++calls === 1) throw new Error('set-up failed')
      await conn.query("SET time_zone = '+03:00'")
    }
  })
  const err = await pool.connect().catch((e: unknown) => e) as DatabaseUnavailableError
  t.ok(err instanceof DatabaseUnavailableError)
  t.match(err.cause, { message: 'set-up failed' })
  t.equal(pool.checkedout(), 0, 'the slot was freed')
  t.equal(pool.stats().connectErrors, 1)
  t.match(logger.at('warn')[0].msg, /Connection set-up failed/)
  // The server ends the thread when it sees the socket close: soon, not at once.
  await until(async () => (await aliveThreads(db, [threads[0]])).length === 0, 5000, 'the failed connection gone from the server')
  t.same(await aliveThreads(db, [threads[0]]), [], 'the failed connection was closed on the server')
  // The next checkout tries afresh (poolSize 1, maxOverflow 0: a leaked slot would block here).
  const h = await pool.connect()
  t.equal(await timeZone(h), '+03:00', 'set-up applied')
  await h.close()
  const again = await pool.connect()
  t.equal(await timeZone(again), '+03:00', 'the pooled connection keeps it')
  again.invalidate()
  const replaced = await pool.connect()
  t.equal(await timeZone(replaced), '+03:00', 'a replacement connection is set up too')
  await replaced.close()
  t.equal(calls, 3)
})

t.test('onConnect that hangs is bounded by connectTimeout', async (t) => {
  let calls = 0
  const pool = await realPool(t, QueuePool, {
    poolSize: 1,
    maxOverflow: 0,
    connectTimeout: 1000,
    async onConnect (conn) {
      if (++calls === 1) await conn.query('SELECT SLEEP(10)')
    }
  })
  const started = Date.now()
  const err = await pool.connect().catch((e: unknown) => e) as DatabaseUnavailableError
  t.ok(Date.now() - started < 5000, 'failed at the deadline, not after the SLEEP')
  t.ok(err.cause instanceof DriverTimeoutError)
  t.match(err.cause, { operation: 'onConnect', timeoutMs: 1000 })
  const h = await pool.connect()
  t.equal(await h.query('SELECT 1').then(() => 'ok'), 'ok')
  await h.close()
})

t.test('a connect listener that throws aborts that checkout; the ones after it never see a half set-up connection', async (t) => {
  const pool = await realPool(t, QueuePool, { poolSize: 1, maxOverflow: 0 })
  let fail = true
  const after: number[] = []
  pool.on('connect', (conn) => {
    if (fail) {
      fail = false
      throw new Error('listener failed')
    }
    void conn
  })
  pool.on('connect', (conn) => { after.push(conn.threadId) })
  await t.rejects(pool.connect(), { code: 'FST_DB_UNAVAILABLE', cause: { message: 'listener failed' } })
  t.same(after, [], 'the second listener did not run for the aborted connection')
  const h = await pool.connect()
  t.equal(after.length, 1, 'a fresh connection ran every listener')
  t.equal(after[0], h.record?.connection?.threadId)
  await h.close()
})

t.test('invalidate() without an error fires invalidate with no error argument', async (t) => {
  const pool = await realPool(t, QueuePool, { poolSize: 1 })
  const seen: unknown[][] = []
  pool.on('invalidate', (...args: unknown[]) => seen.push(args))
  const h = await pool.connect()
  h.invalidate()
  const h2 = await pool.connect()
  const reason = new Error('bad state')
  h2.invalidate(reason)
  t.equal(seen.length, 2)
  t.equal(seen[0].length, 2, 'connection and record only')
  t.equal(seen[1][2], reason)
})

t.test('onConnect option validation', async (t) => {
  t.throws(() => resolvePoolOptions({ onConnect: 'SET time_zone' as never }), { code: 'FST_DB_INVALID_OPTION', message: /onConnect: expected a function/ })
})

t.test('plugin onConnect: a failure answers 503 with the cause logged, then requests get set-up connections', async (t) => {
  let calls = 0
  const { app, logs } = await buildApp(t, {
    plugin: {
      poolSize: 1,
      maxOverflow: 0,
      async onConnect (conn) {
        if (++calls === 1) throw Object.assign(new Error('cannot set up'), { code: 'SETUP_FAILED' })
        await conn.query("SET time_zone = '+05:00'")
      }
    },
    setup (app) {
      app.get('/tz', async (request) => ({ tz: await timeZone(request.db) }))
    }
  })
  const first = await app.inject('/tz')
  t.equal(first.statusCode, 503)
  t.match(first.json(), { code: 'FST_DB_UNAVAILABLE', message: 'Cannot connect to the database (SETUP_FAILED)' })
  t.ok(logs.some((l) => l.level === 40 && (l.err as { message?: string } | undefined)?.message === 'cannot set up'), 'the cause is in the log')
  for (let i = 0; i < 3; i++) t.same((await app.inject('/tz')).json(), { tz: '+05:00' })
})
