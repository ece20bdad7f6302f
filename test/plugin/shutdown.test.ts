/**
 * app.close() drains: an in-flight request finishes with 200, then the pool closes; sessions used
 * afterwards get PoolClosedError.
 */
import t from 'tap'
import { PoolClosedError } from '../../lib'
import { aliveThreads } from '../helpers/db'
import { admin, until } from '../helpers/pool'
import { appTransactions, buildApp, countCheckins, deferred, listen, request } from './_helpers'

t.test('close() with a request in flight: it finishes with 200, then the pool is closed', async (t) => {
  const db = await admin(t)
  const started = deferred()
  const { app } = await buildApp(t, {
    setup (app) {
      app.get('/slow', async (request) => {
        await request.db.query('SELECT 1')
        started.resolve()
        await request.db.query('SELECT SLEEP(0.4)')
        await request.db.query('SELECT 2')
        return { ok: true }
      })
    }
  })
  const counts = countCheckins(app)
  // A session for work outside requests, created before close() but not used yet.
  const outside = app.db.session()
  const url = await listen(app)
  const inflight = request(url + '/slow')
  await started.promise
  t.equal(app.db.stats().checkedOut, 1)
  const closing = app.close()
  const res = await inflight
  t.equal(res.status, 200, 'the in-flight request finished')
  t.same(JSON.parse(res.body), { ok: true })
  await closing
  t.equal(app.db.pool.closed, true, 'pool closed')
  const stats = app.db.stats()
  t.equal(stats.checkedIn, 0, 'no idle connection left')
  t.equal(stats.checkedOut, 0, 'nothing checked out')
  t.same(counts, { checkouts: 1, checkins: 1 })
  await until(async () => await appTransactions(app, db) === 0, 2000)
  t.equal(await appTransactions(app, db), 0, 'no transaction left open')

  const err = await outside.query('SELECT 1').then(() => null, (e: unknown) => e)
  t.ok(err instanceof PoolClosedError, 'a session used after close gets PoolClosedError')
  t.equal((err as PoolClosedError).code, 'FST_DB_POOL_CLOSED')
  await t.rejects(app.db.query('SELECT 1'), { code: 'FST_DB_POOL_CLOSED' }, 'app.db.query too')
  await t.rejects(app.db.session().begin(), { code: 'FST_DB_POOL_CLOSED' }, 'and a new session')
  await outside.close()
  t.equal(app.db.stats().checkedOut, 0)
})

t.test('close() closes idle connections on the server', async (t) => {
  const db = await admin(t)
  const { app, threadIds } = await buildApp(t, {
    setup (app) {
      app.get('/q', async (request) => {
        await request.db.query('SELECT 1')
        return { ok: true }
      })
    }
  })
  await Promise.all([app.inject('/q'), app.inject('/q'), app.inject('/q')])
  t.ok(app.db.stats().checkedIn >= 1, 'idle connections in the pool')
  const ids = [...threadIds]
  await app.close()
  t.equal(app.db.pool.closed, true)
  t.same(app.db.stats().checkedIn, 0)
  t.ok(ids.length >= 1)
  await until(async () => (await aliveThreads(db, ids)).length === 0, 3000, 'server threads to end')
  t.pass('every connection the pool opened is closed on the server')
})
