/**
 * Unit-of-work routes whose handler does something unusual: swallows a lost transaction, or
 * returns while a statement it started is still running. Neither may answer 2xx for lost work.
 */
import t from 'tap'
import { connectionId, killThread } from '../helpers/db'
import { admin } from '../helpers/pool'
import { assertSettled, buildApp, createTable, tableNames } from './_helpers'

const TABLE = 'plugin_uow_edges'

t.test('a handler that catches the loss of its transaction cannot answer 2xx', async (t) => {
  const db = await admin(t)
  await createTable(t, db, TABLE)
  const { app } = await buildApp(t, {
    setup (app) {
      app.post('/swallow', { config: { db: { transaction: true } } }, async (request) => {
        await request.db.query(`INSERT INTO ${TABLE} (name) VALUES (?)`, ['lost'])
        await killThread(db, await connectionId(request.db))
        try {
          await request.db.query('SELECT 1')
        } catch {
          // The handler ignores the error and carries on as if its insert had happened.
        }
        return { ok: true }
      })
    }
  })
  const res = await app.inject({ method: 'POST', url: '/swallow' })
  t.equal(res.statusCode, 500, 'the unit of work lost its transaction: an error, not 200')
  t.equal(res.json().code, 'FST_DB_COMMIT_FAILED')
  t.same(await tableNames(db, TABLE), [], 'nothing was committed')
  await assertSettled(t, app, db)
})

t.test('a statement the handler did not await is part of the unit of work: it finishes, then the commit', async (t) => {
  const db = await admin(t)
  await createTable(t, db, TABLE)
  const { app } = await buildApp(t, {
    setup (app) {
      app.post('/fire-and-forget', { config: { db: { transaction: true } } }, async (request) => {
        await request.db.query(`INSERT INTO ${TABLE} (name) VALUES (?)`, ['first'])
        // Not awaited: still running when the handler returns.
        void request.db.query(`INSERT INTO ${TABLE} (name) SELECT ? FROM DUAL WHERE SLEEP(0.3) = 0`, ['second'])
        return { ok: true }
      })
    }
  })
  const started = Date.now()
  const res = await app.inject({ method: 'POST', url: '/fire-and-forget' })
  t.equal(res.statusCode, 200)
  t.ok(Date.now() - started >= 290, 'the response waited for the statement it started')
  t.same(await tableNames(db, TABLE), ['first', 'second'], 'both writes were committed together')
  await assertSettled(t, app, db)
})
