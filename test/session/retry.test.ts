/**
 * transaction(fn, { retries }): a real two-session deadlock, retried to success with each update
 * applied exactly once; exhausted retries; the warn log per retry; refusal inside a transaction;
 * the back-off bounds; and the HTTP status of a route whose unit of work deadlocks.
 */
import t from 'tap'
import mysql from 'mysql2/promise'
import type { RowDataPacket } from 'mysql2'
import { Session, TransactionConflictError, TransactionStateError } from '../../lib'
import { QueuePool } from '../../lib/pool'
import { backoffDelay, BASE_DELAY_MS, MAX_DELAY_MS, runWithRetries, serverConflict } from '../../lib/session/retry'
import { startFakeServer } from '../helpers/fake-server'
import { admin, fakeLogger, realPool } from '../helpers/pool'
import { buildApp, deferred, listen, request } from '../plugin/_helpers'

const TABLE = 'retry_deadlock'

t.test('retries', async (t) => {
  const db = await admin(t)
  await db.query(`DROP TABLE IF EXISTS ${TABLE}`)
  await db.query(`CREATE TABLE ${TABLE} (id INT PRIMARY KEY, v INT NOT NULL, log VARCHAR(200) NOT NULL DEFAULT '') ENGINE=InnoDB`)
  t.teardown(() => db.query(`DROP TABLE IF EXISTS ${TABLE}`))
  t.beforeEach(async () => {
    await db.query(`DELETE FROM ${TABLE}`)
    await db.query(`INSERT INTO ${TABLE} (id, v) VALUES (1, 0), (2, 0)`)
  })
  const rows = async (): Promise<Array<{ v: number, log: string }>> =>
    (await db.query<RowDataPacket[]>(`SELECT v, log FROM ${TABLE} ORDER BY id`))[0].map((r) => ({ v: Number(r.v), log: String(r.log) }))

  /**
   * Two transactions that lock rows in opposite order, each waiting (on its first attempt) until
   * both hold their first row, so InnoDB must pick a victim.
   */
  function crossing (pool: QueuePool, retries: number) {
    const attempts = { a: 0, b: 0 }
    const bothLocked = deferred()
    let locked = 0
    const work = (name: 'a' | 'b', first: number, second: number) => {
      const s = new Session(pool, { logger: log })
      return s.transaction(async () => {
        const attempt = ++attempts[name]
        await s.query(`UPDATE ${TABLE} SET v = v + 1, log = CONCAT(log, ?) WHERE id = ?`, [name, first])
        if (attempt === 1 && ++locked === 2) bothLocked.resolve()
        if (attempt === 1) await bothLocked.promise
        await s.query(`UPDATE ${TABLE} SET v = v + 1, log = CONCAT(log, ?) WHERE id = ?`, [name, second])
        return attempt
      }, { retries }).finally(() => s.close())
    }
    const log = fakeLogger()
    return { attempts, log, run: () => Promise.allSettled([work('a', 1, 2), work('b', 2, 1)]) }
  }

  t.test('a real deadlock is retried to success; each update applied exactly once', async (t) => {
    const pool = await realPool(t, QueuePool, { poolSize: 2 })
    const { attempts, log, run } = crossing(pool, 3)
    const results = await run()
    t.same(results.map((r) => r.status), ['fulfilled', 'fulfilled'], 'both transactions committed')
    t.equal(attempts.a + attempts.b, 3, 'the victim ran twice, the survivor once')
    const data = await rows()
    t.same(data.map((r) => r.v), [2, 2], 'each row updated once by each transaction')
    t.same(data.map((r) => r.log.split('').sort().join('')), ['ab', 'ab'], 'no update of the rolled-back attempt survived')
    const warns = log.at('warn')
    t.equal(warns.length, 1, 'one retry logged')
    t.match(warns[0].obj, { attempt: 1, of: 4, errno: 1213 })
    t.match(warns[0].msg, /retrying, attempt 2 of 4/)
    t.equal(pool.checkedout(), 0)
  })

  t.test('without retries the victim fails with a retryable TransactionConflictError', async (t) => {
    const pool = await realPool(t, QueuePool, { poolSize: 2 })
    const { run } = crossing(pool, 0)
    const results = await run()
    const failed = results.filter((r) => r.status === 'rejected') as PromiseRejectedResult[]
    t.equal(failed.length, 1)
    const err = failed[0].reason as TransactionConflictError
    t.ok(err instanceof TransactionConflictError)
    t.match(err, { code: 'FST_DB_TRANSACTION_CONFLICT', statusCode: 503, errno: 1213, attempts: 1, headers: { 'retry-after': '1' } })
    t.same((await rows()).map((r) => r.v), [1, 1], 'only the survivor\'s updates are kept')
  })

  t.test('retries exhausted: the last error surfaces with the attempts counted', async (t) => {
    const log = fakeLogger()
    let calls = 0
    const deadlock = Object.assign(new Error('Deadlock found'), { errno: 1213, code: 'ER_LOCK_DEADLOCK' })
    const started = Date.now()
    const err = await runWithRetries(async () => { calls++; throw deadlock }, 2, log).catch((e: unknown) => e) as TransactionConflictError
    t.equal(calls, 3)
    t.ok(err instanceof TransactionConflictError)
    t.equal(err.attempts, 3)
    t.equal(err.cause, deadlock)
    t.match(err.message, /after 3 attempts; retry it/)
    t.same(log.at('warn').map((c) => c.obj.attempt), [1, 2])
    t.ok(Date.now() - started >= BASE_DELAY_MS / 2 + BASE_DELAY_MS - 5, 'it backed off between attempts')
    // Other errors are not retried.
    calls = 0
    await t.rejects(runWithRetries(async () => { calls++; throw new Error('syntax') }, 5, log), { message: 'syntax' })
    t.equal(calls, 1)
    // A lock wait timeout (1205) is retried too.
    const timeout = Object.assign(new Error('Lock wait timeout'), { errno: 1205 })
    calls = 0
    t.equal(await runWithRetries(async () => { if (++calls === 1) throw timeout; return 'ok' }, 1, log), 'ok')
    t.match(new TransactionConflictError(timeout).message, /lock wait timed out/)
    t.equal(serverConflict({ cause: { cause: { errno: 1205 } } })?.errno, 1205, 'found anywhere in the cause chain')
    t.equal(serverConflict(null), undefined)
  })

  t.test('back-off: exponential, jittered, bounded', async (t) => {
    t.equal(backoffDelay(1, () => 0), BASE_DELAY_MS / 2)
    t.equal(backoffDelay(1, () => 1), BASE_DELAY_MS)
    t.equal(backoffDelay(3, () => 1), BASE_DELAY_MS * 4)
    t.equal(backoffDelay(30, () => 1), MAX_DELAY_MS, 'capped')
    for (let i = 1; i < 20; i++) {
      const d = backoffDelay(i)
      t.ok(d >= Math.min(MAX_DELAY_MS, BASE_DELAY_MS * 2 ** (i - 1)) / 2 && d <= MAX_DELAY_MS)
    }
  })

  t.test('refused inside an open transaction or unit of work', async (t) => {
    const pool = await realPool(t, QueuePool, { poolSize: 1 })
    const s = new Session(pool)
    t.teardown(() => s.close())
    await s.begin()
    await t.rejects(s.transaction(async () => 1, { retries: 2 }), TransactionStateError)
    t.equal(await s.transaction(async () => 'savepoint'), 'savepoint', 'a plain nested transaction is still a savepoint')
    await s.rollback()
    await s.close()
    const uow = new Session(pool, { transaction: true })
    t.teardown(() => uow.close())
    await t.rejects(uow.transaction(async () => 1, { retries: 1 }), { code: 'FST_DB_TRANSACTION_STATE', message: /savepoint cannot be retried alone/ })
  })

  t.test('a route unit of work that deadlocks answers 503 with Retry-After', async (t) => {
    const bothLocked = deferred()
    let locked = 0
    const { app } = await buildApp(t, {
      setup (app) {
        app.post<{ Params: { first: string, second: string } }>('/cross/:first/:second', { config: { db: { transaction: true } } }, async (request) => {
          await request.db.query(`UPDATE ${TABLE} SET v = v + 1 WHERE id = ?`, [request.params.first])
          if (++locked === 2) bothLocked.resolve()
          await bothLocked.promise
          await request.db.query(`UPDATE ${TABLE} SET v = v + 1 WHERE id = ?`, [request.params.second])
          return { ok: true }
        })
      }
    })
    const base = await listen(app)
    const [a, b] = await Promise.all([request(`${base}/cross/1/2`, { method: 'POST' }), request(`${base}/cross/2/1`, { method: 'POST' })])
    const statuses = [a.status, b.status].sort()
    t.same(statuses, [200, 503])
    const loser = a.status === 503 ? a : b
    t.equal(loser.headers['retry-after'], '1')
    t.match(JSON.parse(loser.body), { code: 'FST_DB_TRANSACTION_CONFLICT' })
    t.notMatch(loser.body, /Deadlock found|UPDATE/, 'no server text or SQL in the response')
    t.same((await rows()).map((r) => r.v), [1, 1], 'the loser\'s work was rolled back')
  })
})

t.test('Galera: a certification failure on COMMIT (1213) is retried, and a unit of work answers 503', async (t) => {
  // No single real server fails a COMMIT with 1213; mysql2's fake server does, on cue.
  let failCommits = 1
  const fake = await startFakeServer({
    query: (sql) => sql === 'COMMIT' && failCommits-- > 0 ? { code: 1213, message: 'Deadlock found when trying to get lock; try restarting transaction (certification failure)' } : 'ok'
  })
  t.teardown(() => fake.close())
  const pool = new QueuePool(() => mysql.createConnection(fake.url), { poolSize: 1, logger: fakeLogger(), closeTimeout: 200 })
  t.teardown(() => pool.close())
  const s = new Session(pool, { logger: fakeLogger() })
  let runs = 0
  await s.transaction(async () => { runs++; await s.query('UPDATE t SET v = 1') }, { retries: 2 })
  t.equal(runs, 2, 'fn ran again after the failed COMMIT')
  t.same(fake.queries.filter((q) => q !== 'ROLLBACK'), ['START TRANSACTION', 'UPDATE t SET v = 1', 'COMMIT', 'START TRANSACTION', 'UPDATE t SET v = 1', 'COMMIT'])
  await s.close()

  failCommits = 1
  const { app } = await buildApp(t, {
    plugin: { connection: fake.url, poolSize: 1 },
    setup (app) { app.post('/w', { config: { db: { transaction: true } } }, async (request) => { await request.db.query('UPDATE t SET v = 2'); return { ok: true } }) }
  })
  const res = await app.inject({ method: 'POST', url: '/w' })
  t.equal(res.statusCode, 503, 'a conflict on COMMIT stays retryable, not a 500 commit failure')
  t.equal(res.headers['retry-after'], '1')
  t.match(res.json(), { code: 'FST_DB_TRANSACTION_CONFLICT' })
})
