/**
 * Transactions: explicit begin/commit/rollback, transaction(fn) with savepoints, the per-route
 * unit of work (`config: { db: { transaction: true } }`), failed commits, and pending rollbacks.
 */
import t from 'tap'
import type { ResultSetHeader } from 'mysql2'
import { PendingRollbackError, type Session } from '../../lib'
import { connectionId, killThread, runningStatement } from '../helpers/db'
import { admin, sleep, until } from '../helpers/pool'
import { abortedRequest, assertSettled, buildApp, completedLines, countCheckins, createTable, deferred, listen, request, tableNames } from './_helpers'

const TABLE = 'plugin_tx_items'

async function insert (s: Session, name: string): Promise<void> {
  await s.query<ResultSetHeader>(`INSERT INTO ${TABLE} (name) VALUES (?)`, [name])
}

t.test('transactions', async (t) => {
  const db = await admin(t)
  await createTable(t, db, TABLE)
  t.beforeEach(async () => { await db.query(`DELETE FROM ${TABLE}`) })

  t.test('begin/commit and begin/rollback inside a handler', async (t) => {
    const { app } = await buildApp(t, {
      setup (app) {
        app.post('/commit', async (request) => {
          await request.db.begin()
          t.equal(request.db.inTransaction, true)
          await insert(request.db, 'committed')
          await request.db.commit()
          t.equal(request.db.inTransaction, false)
          return { ok: true }
        })
        app.post('/rollback', async (request) => {
          await request.db.begin()
          await insert(request.db, 'rolled-back')
          await request.db.rollback()
          return { ok: true }
        })
        app.post('/begin-twice', async (request) => {
          await request.db.begin()
          await request.db.begin()
        })
      }
    })
    const counts = countCheckins(app)
    t.equal((await app.inject({ method: 'POST', url: '/commit' })).statusCode, 200)
    t.equal((await app.inject({ method: 'POST', url: '/rollback' })).statusCode, 200)
    const twice = await app.inject({ method: 'POST', url: '/begin-twice' })
    t.equal(twice.statusCode, 500)
    t.equal(twice.json().code, 'FST_DB_TRANSACTION_STATE', 'begin() inside a transaction is refused')
    t.same(await tableNames(db, TABLE), ['committed'])
    t.same(counts, { checkouts: 3, checkins: 3 })
    await assertSettled(t, app, db)
  })

  t.test('transaction(fn): commit on success, rollback on throw, savepoint when nested', async (t) => {
    const { app } = await buildApp(t, {
      setup (app) {
        app.post('/ok', async (request) => {
          const v = await request.db.transaction(async (s) => {
            await insert(s, 'fn-ok')
            return 42
          })
          return { v, inTransaction: request.db.inTransaction }
        })
        app.post('/throw', async (request) => {
          await request.db.transaction(async (s) => {
            await insert(s, 'fn-throw')
            throw new Error('undo')
          }).catch(() => undefined)
          return { inTransaction: request.db.inTransaction }
        })
        app.post('/nested', async (request) => {
          await request.db.transaction(async (s) => {
            await insert(s, 'outer-1')
            await s.transaction(async (inner) => {
              await insert(inner, 'inner-undone')
              throw new Error('inner fails')
            }).catch(() => undefined)
            await s.transaction(async (inner) => { await insert(inner, 'inner-kept') })
            await insert(s, 'outer-2')
          })
          return { ok: true }
        })
      }
    })
    const counts = countCheckins(app)
    const ok = await app.inject({ method: 'POST', url: '/ok' })
    t.same(ok.json(), { v: 42, inTransaction: false }, 'fn result returned, transaction ended')
    const thrown = await app.inject({ method: 'POST', url: '/throw' })
    t.same(thrown.json(), { inTransaction: false })
    t.equal((await app.inject({ method: 'POST', url: '/nested' })).statusCode, 200)
    t.same(await tableNames(db, TABLE), ['fn-ok', 'outer-1', 'inner-kept', 'outer-2'], 'only the failed inner savepoint was undone')
    t.same(counts, { checkouts: 3, checkins: 3 })
    await assertSettled(t, app, db)
  })

  t.test('unit of work: begun lazily, committed before the response is sent', async (t) => {
    const { app } = await buildApp(t, {
      setup (app) {
        app.post('/noop', { config: { db: { transaction: true } } }, async () => ({ ok: true }))
        app.post('/items', { config: { db: { transaction: true } } }, async (request) => {
          t.equal(request.db.isUnitOfWork, true)
          t.equal(request.db.inTransaction, false, 'not begun before the first statement')
          await insert(request.db, 'uow')
          t.equal(request.db.inTransaction, true, 'begun at the first statement')
          return { ok: true }
        })
      }
    })
    const counts = countCheckins(app)
    const before = app.db.stats()
    t.equal((await app.inject({ method: 'POST', url: '/noop' })).statusCode, 200)
    t.equal(app.db.stats().checkouts, before.checkouts, 'a unit-of-work route that runs no statement takes no connection')
    t.equal(app.db.stats().connects, 0)
    const url = await listen(app)
    const res = await request(url + '/items', { method: 'POST' })
    t.equal(res.status, 200)
    // Checked the instant the client has the 200, from a separate connection.
    t.same(await tableNames(db, TABLE), ['uow'], 'the row was committed before the response reached the client')
    t.same(counts, { checkouts: 1, checkins: 1 })
    await assertSettled(t, app, db)
  })

  t.test('unit of work: rolled back when the handler throws or replies >= 400', async (t) => {
    const { app } = await buildApp(t, {
      setup (app) {
        const opts = { config: { db: { transaction: true } } }
        app.post('/throw', opts, async (request) => {
          await insert(request.db, 'thrown')
          throw new Error('handler failed')
        })
        app.post('/conflict', opts, async (request, reply) => {
          await insert(request.db, 'conflict')
          return reply.conflict('already there')
        })
        app.post('/code', opts, async (request, reply) => {
          await insert(request.db, 'coded')
          reply.code(422)
          return { bad: true }
        })
        app.post('/ok', opts, async (request) => {
          await insert(request.db, 'ok')
          return { ok: true }
        })
      }
    })
    const counts = countCheckins(app)
    t.equal((await app.inject({ method: 'POST', url: '/throw' })).statusCode, 500)
    t.equal((await app.inject({ method: 'POST', url: '/conflict' })).statusCode, 409)
    t.equal((await app.inject({ method: 'POST', url: '/code' })).statusCode, 422)
    t.equal((await app.inject({ method: 'POST', url: '/ok' })).statusCode, 200)
    t.same(await tableNames(db, TABLE), ['ok'], 'only the successful request committed')
    t.same(counts, { checkouts: 4, checkins: 4 })
    await assertSettled(t, app, db)
  })

  t.test('unit of work: rolled back on client abort (real socket)', async (t) => {
    const started = deferred<number>()
    const { app } = await buildApp(t, {
      setup (app) {
        app.get('/slow', { config: { db: { transaction: true } } }, async (request) => {
          await insert(request.db, 'aborted')
          started.resolve(await connectionId(request.db))
          await request.db.query('SELECT SLEEP(3)')
          return { ok: true }
        })
      }
    })
    const counts = countCheckins(app)
    const url = await listen(app)
    const t0 = Date.now()
    await abortedRequest(url + '/slow', started.promise.then(() => sleep(100)))
    const id = await Promise.race([started.promise, sleep(2000).then(() => -1)])
    t.not(id, -1, 'the handler started')
    await until(() => app.db.stats().checkedOut === 0, 2000, 'release after abort')
    t.ok(Date.now() - t0 < 2500, 'released before SLEEP(3) ended')
    t.notOk(await runningStatement(db, id, 'SELECT SLEEP(3)'), 'the SLEEP(3) was killed')
    t.same(await tableNames(db, TABLE), [], 'the insert was rolled back')
    await sleep(100)
    t.same(counts, { checkouts: 1, checkins: 1 })
    await assertSettled(t, app, db)
  })

  t.test('unit of work: a commit that fails never answers 2xx', async (t) => {
    const { app, logs } = await buildApp(t, {
      setup (app) {
        app.post('/items', { config: { db: { transaction: true } } }, async (request) => {
          await insert(request.db, 'never-committed')
          const id = await connectionId(request.db)
          await killThread(db, id) // the server drops the session after the last write
          return { ok: true }
        })
      }
    })
    const counts = countCheckins(app)
    const res = await app.inject({ method: 'POST', url: '/items' })
    t.ok(res.statusCode >= 500, `answered ${res.statusCode}, an error`)
    t.equal(res.json().code, 'FST_DB_COMMIT_FAILED')
    t.same(await tableNames(db, TABLE), [], 'the row is absent')
    t.ok(logs.some((l) => l.level >= 50 && (l.err as { code?: string } | undefined)?.code === 'FST_DB_COMMIT_FAILED'), 'the failed commit is logged')
    t.match(completedLines(logs)[0]?.dbSession, { commits: 0, rollbacks: 1 }, 'the request log line counts the failed COMMIT as a transaction that ended without a commit')
    t.same(counts, { checkouts: 1, checkins: 1 })
    await assertSettled(t, app, db)
  })

  t.test('a session closed with an open transaction is rolled back', async (t) => {
    const { app } = await buildApp(t, {
      setup (app) {
        app.post('/forgot-commit', async (request) => {
          await request.db.begin()
          await insert(request.db, 'forgot-commit')
          return { ok: true }
        })
      }
    })
    const counts = countCheckins(app)
    t.equal((await app.inject({ method: 'POST', url: '/forgot-commit' })).statusCode, 200)
    const s = app.db.session()
    await s.begin()
    await insert(s, 'closed-open')
    await s.close()
    t.equal(s.inTransaction, false)
    t.same(await tableNames(db, TABLE), [], 'both transactions were rolled back')
    t.same(counts, { checkouts: 2, checkins: 2 })
    await assertSettled(t, app, db)
  })

  t.test('disconnect inside a transaction: PendingRollbackError until rollback(), then a new connection', async (t) => {
    const { app } = await buildApp(t)
    const counts = countCheckins(app)
    const s = app.db.session()
    t.teardown(() => s.close())
    await s.begin()
    await insert(s, 'lost')
    const id = await connectionId(s)
    await killThread(db, id)
    const first = await s.query('SELECT 1').then(() => null, (e: unknown) => e)
    t.match(first, { code: 'FST_DB_DISCONNECTED' }, 'the statement that met the disconnect')
    t.equal(s.inTransaction, false)
    await t.rejects(s.query('SELECT 1'), PendingRollbackError)
    await t.rejects(s.execute('SELECT 1'), { code: 'FST_DB_PENDING_ROLLBACK' })
    await t.rejects(s.commit(), { code: 'FST_DB_PENDING_ROLLBACK' })
    await s.rollback()
    const id2 = await connectionId(s)
    t.not(id2, id, 'works again, on a new connection')
    await s.close()
    t.same(await tableNames(db, TABLE), [], 'the lost transaction\'s row is absent')
    t.same(counts, { checkouts: 2, checkins: 2 })
    await assertSettled(t, app, db)
  })
})
