/**
 * Several databases in one app: `name` gives request.dbs.NAME / app.dbs.NAME with the same
 * lifecycle as request.db, their own pool, log fields and unit of work; app.db.current() and
 * app.dbs.NAME.current() find the request's sessions from anywhere the handler calls.
 */
import t from 'tap'
import Fastify from 'fastify'
import sensible from '@fastify/sensible'
import dbSession, { NoRequestError, Session, SessionClosedError } from '../../lib'
import { connectionId, databaseUrl } from '../helpers/db'
import { admin, sleep } from '../helpers/pool'
import { assertSettled, buildApp, completedLines, createTable, listen, request, tableNames } from './_helpers'

const TABLE = 'fdbs_named'

t.test('a named registration: request.dbs.NAME and app.dbs.NAME, own pool, own log fields, released', async (t) => {
  const db = await admin(t)
  await createTable(t, db, TABLE)
  const url = await databaseUrl()
  const { app, logs } = await buildApp(t, {
    async setup (app) {
      await app.register(dbSession, { name: 'reports', connection: url, poolSize: 2, maxOverflow: 0 })
      app.get('/both', async (request) => {
        const main = await connectionId(request.db)
        const reports = await connectionId(request.dbs.reports)
        t.equal(request.dbs.reports, request.dbs.reports, 'the same session on every access')
        return { main, reports }
      })
      app.post('/tx', { config: { dbs: { reports: { transaction: true } } } }, async (request) => {
        await request.dbs.reports.query(`INSERT INTO ${TABLE} (name) VALUES (?)`, ['reports'])
        if ((request.body as { fail?: boolean }).fail === true) throw new Error('fail')
        return { ok: true }
      })
    }
  })
  t.ok(app.dbs.reports.pool !== app.db.pool, 'its own pool')
  t.equal(app.dbs.reports.stats().size, 2)
  const res = await app.inject('/both')
  const { main, reports } = res.json<{ main: number, reports: number }>()
  t.not(main, reports, 'two connections, one per database')
  t.equal(app.db.stats().checkedOut, 0)
  t.equal(app.dbs.reports.stats().checkedOut, 0, 'released with the request')
  const line = completedLines(logs).at(-1) as Record<string, unknown>
  t.ok(line['dbPool:reports'] !== undefined && line['dbSession:reports'] !== undefined, 'its own fields on the request line')
  t.ok(line.dbPool !== undefined && line.dbSession !== undefined)
  t.equal((await app.inject({ method: 'POST', url: '/tx', payload: { fail: true } })).statusCode, 500)
  t.equal((await app.inject({ method: 'POST', url: '/tx', payload: {} })).statusCode, 200)
  t.same(await tableNames(db, TABLE), ['reports'], 'its unit of work commits and rolls back like request.db')
  await assertSettled(t, app, db)
  t.equal(app.dbs.reports.stats().checkedOut, 0)
})

t.test('the same name twice, or two unnamed registrations: FST_DB_INVALID_OPTION at register', async (t) => {
  const url = await databaseUrl()
  for (const second of [{}, { name: 'x' }]) {
    const app = Fastify()
    t.teardown(() => app.close())
    await app.register(sensible)
    await app.register(dbSession, { connection: url, ...(Object.keys(second).length > 0 ? { name: 'x' } : {}) })
    await t.rejects(async () => await app.register(dbSession, { connection: url, ...second }), { code: 'FST_DB_INVALID_OPTION', option: 'name' })
  }
  for (const bad of ['', 'has space', 'db', 1, '1abc']) {
    const app = Fastify()
    t.teardown(() => app.close())
    await app.register(sensible)
    await t.rejects(async () => await app.register(dbSession, { connection: url, name: bad as string }), { code: 'FST_DB_INVALID_OPTION', option: 'name', message: /JavaScript identifier/ })
  }
})

t.test('closed with the app', async (t) => {
  const url = await databaseUrl()
  const app = Fastify()
  await app.register(sensible)
  await app.register(dbSession, { name: 'other', connection: url })
  await app.dbs.other.query('SELECT 1')
  t.equal(app.dbs.other.stats().checkedIn, 1)
  await app.close()
  t.ok(app.dbs.other.pool.closed)
})

/** A "service module": no request in sight. */
async function serviceConnectionId (facade: { current: () => Session }): Promise<number> {
  await sleep(1) // an async hop: the context follows
  return await connectionId(facade.current())
}

t.test('app.db.current(): the request\'s own session from code that never sees the request', async (t) => {
  const db = await admin(t)
  const url = await databaseUrl()
  const { app } = await buildApp(t, {
    async setup (app) {
      await app.register(dbSession, { name: 'reports', connection: url })
      app.post('/ids', async (request) => {
        t.equal(app.db.current(), request.db, 'the same object as request.db')
        t.equal(app.dbs.reports.current(), request.dbs.reports)
        return {
          direct: await connectionId(request.db),
          service: await serviceConnectionId(app.db),
          reports: await connectionId(request.dbs.reports),
          reportsService: await serviceConnectionId(app.dbs.reports)
        }
      })
    }
  })
  const base = await listen(app)
  // 200 concurrent requests: each sees its own session.
  const results = await Promise.all(Array.from({ length: 200 }, async () => JSON.parse((await request(`${base}/ids`, { method: 'POST', body: { a: 1 } })).body) as Record<string, number>))
  for (const r of results) {
    t.equal(r.service, r.direct)
    t.equal(r.reportsService, r.reports)
  }
  t.throws(() => app.db.current(), NoRequestError, 'outside a request')
  t.throws(() => app.db.current(), { code: 'FST_DB_NO_REQUEST', message: /use app\.db\.session\(\)/ })
  t.throws(() => app.dbs.reports.current(), { message: /app\.dbs\.reports\.session\(\)/ })
  t.equal(app.db.tryCurrent(), undefined)
  await assertSettled(t, app, db)
})

t.test('current() after the request ended throws SessionClosedError; requestContext: false turns it off', async (t) => {
  const url = await databaseUrl()
  let later: (() => unknown) | undefined
  const { app } = await buildApp(t, {
    setup (app) {
      app.get('/x', async () => {
        later = () => app.db.current()
        return { ok: true }
      })
    }
  })
  await app.inject('/x')
  t.throws(() => later?.(), NoRequestError, 'a callback called later, outside the request, finds none')
  const { app: off } = await buildApp(t, {
    plugin: { requestContext: false },
    setup (app) {
      app.get('/y', async () => app.db.tryCurrent() === undefined)
    }
  })
  t.equal((await off.inject('/y')).body, 'true', 'no async context with requestContext: false')
  void url
  void SessionClosedError
})

t.test('hijack refused by one registration\'s uncommitted work leaves the other registration\'s unit of work as it was', async (t) => {
  // Each registration wraps reply.hijack; whichever refuses, the other must not have left its
  // unit of work already: a handler that catches the refusal and writes on, then fails, must see
  // every write of the request rolled back.
  const db = await admin(t)
  await createTable(t, db, TABLE)
  const url = await databaseUrl()
  const { app } = await buildApp(t, {
    async setup (app) {
      await app.register(dbSession, { name: 'reports', connection: url, poolSize: 2, maxOverflow: 0 })
      app.post('/:first', { config: { db: { transaction: true }, dbs: { reports: { transaction: true } } } }, async (request, reply) => {
        const first = (request.params as { first: string }).first === 'main' ? request.db : request.dbs.reports
        const other = first === request.db ? request.dbs.reports : request.db
        await first.query(`INSERT INTO ${TABLE} (name) VALUES (?)`, ['first'])
        let refused = false
        try {
          reply.hijack()
        } catch {
          refused = true
        }
        await other.query(`INSERT INTO ${TABLE} (name) VALUES (?)`, [`other, hijack refused: ${String(refused)}`])
        throw new Error('the request fails after all')
      })
    }
  })
  for (const first of ['main', 'reports']) {
    const res = await app.inject({ method: 'POST', url: `/${first}`, payload: {} })
    t.equal(res.statusCode, 500, `${first} first: the request failed`)
    t.same(await tableNames(db, TABLE), [], `${first} first: both writes rolled back, on both databases`)
  }
  await assertSettled(t, app, db)
  t.equal(app.dbs.reports.stats().checkedOut, 0)
})
