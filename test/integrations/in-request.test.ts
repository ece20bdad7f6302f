/**
 * Kysely and Drizzle inside real Fastify requests on the real database: one connection per
 * request shared by request.db, app.db.current(), Kysely and Drizzle; the route's unit of work
 * covers their writes; their transactions are savepoints in it; client aborts and handler
 * timeouts over real sockets release the connection and stop the statement; 200 concurrent
 * requests each keep their own session.
 */
import t from 'tap'
import { sql as ksql, type Generated } from 'kysely'
import { eq, sql as dsql } from 'drizzle-orm'
import { int, mysqlTable, varchar } from 'drizzle-orm/mysql-core'
import type { FastifyInstance } from 'fastify'
import { dbSession, SessionClosedError, type Session } from '../../lib'
import { kysely } from '../../lib/kysely'
import { drizzle } from '../../lib/drizzle'
import { connectionId, databaseUrl, runningStatement } from '../helpers/db'
import { admin, sleep, until } from '../helpers/pool'
import { abortedRequest, assertSettled, buildApp, createTable, deferred, listen, request, tableNames } from '../plugin/_helpers'

const TABLE = 'inreq_things'
interface Database { inreq_things: { id: Generated<number>, name: string } }
const things = mysqlTable(TABLE, { id: int('id').primaryKey().autoincrement(), name: varchar('name', { length: 100 }).notNull() })

/** What a repository module looks like: no request in sight. */
function repository (app: FastifyInstance): { k: ReturnType<typeof kysely<Database>>, d: ReturnType<typeof drizzle> } {
  return { k: kysely<Database>(app.db), d: drizzle(app.db) }
}

async function kyselyConnectionId (k: ReturnType<typeof kysely<Database>>): Promise<number> {
  return Number((await ksql<{ id: number }>`SELECT CONNECTION_ID() AS id`.execute(k)).rows[0].id)
}

async function drizzleConnectionId (d: ReturnType<typeof drizzle>): Promise<number> {
  const [rows] = await d.execute(dsql`SELECT CONNECTION_ID() AS id`) as unknown as [Array<{ id: number }>]
  return Number(rows[0].id)
}

t.test('one connection per request: request.db, current(), Kysely and Drizzle', async (t) => {
  const db = await admin(t)
  const { app } = await buildApp(t, {
    setup (app) {
      const { k, d } = repository(app)
      const ids = async (request: import('fastify').FastifyRequest): Promise<Record<string, number | boolean>> => ({
        request: await connectionId(request.db),
        current: await connectionId(app.db.current()),
        kysely: await kyselyConnectionId(k),
        drizzle: await drizzleConnectionId(d),
        same: app.db.current() === request.db
      })
      app.get('/ids', async (request) => ids(request))
      app.get('/ids-uow', { config: { db: { transaction: true } } }, async (request) => ids(request))
    }
  })
  for (const url of ['/ids', '/ids-uow']) {
    const before = app.db.stats().checkouts
    const res = await app.inject(url)
    t.equal(res.statusCode, 200)
    const body = res.json() as Record<string, number | boolean>
    t.equal(body.same, true, `${url}: current() is request.db`)
    t.ok(Number(body.request) > 0)
    t.same([body.current, body.kysely, body.drizzle], [body.request, body.request, body.request], `${url}: one CONNECTION_ID for all four`)
    t.equal(app.db.stats().checkouts - before, 1, `${url}: one checkout for the whole request`)
  }
  await assertSettled(t, app, db)
})

t.test('unit of work: Kysely and Drizzle writes commit before the 2xx and roll back when the handler throws', async (t) => {
  const db = await admin(t)
  await createTable(t, db, TABLE)
  const { app } = await buildApp(t, {
    setup (app) {
      const { k, d } = repository(app)
      app.post<{ Querystring: { fail?: string } }>('/write', { config: { db: { transaction: true } } }, async (request, reply) => {
        await k.insertInto(TABLE).values({ name: 'kysely' }).execute()
        await d.insert(things).values({ name: 'drizzle' })
        await request.db.query(`INSERT INTO ${TABLE} (name) VALUES ('raw')`)
        if (request.query.fail === '1') throw app.httpErrors.conflict('no')
        return reply.code(201).send({ ok: true })
      })
    }
  })
  const failed = await app.inject({ method: 'POST', url: '/write?fail=1' })
  t.equal(failed.statusCode, 409)
  t.same(await tableNames(db, TABLE), [], 'all three writes rolled back')
  const ok = await app.inject({ method: 'POST', url: '/write' })
  t.equal(ok.statusCode, 201)
  t.same(await tableNames(db, TABLE), ['kysely', 'drizzle', 'raw'], 'committed by the time the 2xx arrived')
  await assertSettled(t, app, db)
})

t.test('inside a request: Kysely and Drizzle transactions are savepoints of the unit of work, real transactions otherwise', async (t) => {
  const db = await admin(t)
  await createTable(t, db, TABLE)
  const seen: Record<string, unknown> = {}
  const { app } = await buildApp(t, {
    setup (app) {
      const { k, d } = repository(app)
      app.post('/nested', { config: { db: { transaction: true } } }, async () => {
        await k.insertInto(TABLE).values({ name: 'outer' }).execute()
        await k.transaction().execute(async (trx) => {
          await trx.insertInto(TABLE).values({ name: 'k kept' }).execute()
        })
        await k.transaction().execute(async (trx) => {
          await trx.insertInto(TABLE).values({ name: 'k undone' }).execute()
          throw new Error('undo')
        }).catch(() => undefined)
        await d.transaction(async (tx) => {
          await tx.insert(things).values({ name: 'd kept' })
          await tx.transaction(async (inner) => {
            await inner.insert(things).values({ name: 'd inner undone' })
            inner.rollback()
          }).catch(() => undefined)
        })
        await d.transaction(async (tx) => {
          await tx.insert(things).values({ name: 'd undone' })
          throw new Error('undo')
        }).catch(() => undefined)
        seen.inTransaction = app.db.current().inTransaction
        return { ok: true }
      })
      app.post('/plain', async (request) => {
        await k.transaction().execute(async (trx) => { await trx.insertInto(TABLE).values({ name: 'plain k' }).execute() })
        seen.visibleMidRequest = await tableNames(db, TABLE)
        await d.transaction(async (tx) => { await tx.insert(things).values({ name: 'plain d' }) })
        seen.plainInTransaction = request.db.inTransaction
        return { ok: true }
      })
    }
  })
  t.equal((await app.inject({ method: 'POST', url: '/nested' })).statusCode, 200)
  t.equal(seen.inTransaction, true, 'the builders\' commits did not end the request\'s transaction')
  t.same(await tableNames(db, TABLE), ['outer', 'k kept', 'd kept'])
  t.equal((await app.inject({ method: 'POST', url: '/plain' })).statusCode, 200)
  t.same(seen.visibleMidRequest, ['outer', 'k kept', 'd kept', 'plain k'], 'without a unit of work, Kysely\'s transaction committed at once')
  t.equal(seen.plainInTransaction, false)
  t.same(await tableNames(db, TABLE), ['outer', 'k kept', 'd kept', 'plain k', 'plain d'])
  await assertSettled(t, app, db)
})

t.test('client abort during a Kysely query: released at once, the statement stopped, the handler gets SessionClosedError', async (t) => {
  const db = await admin(t)
  const started = deferred<number>()
  const handlerDone = deferred<unknown>()
  const { app } = await buildApp(t, {
    setup (app) {
      const { k } = repository(app)
      app.get('/slow', async () => {
        started.resolve(await kyselyConnectionId(k))
        try {
          await ksql`SELECT SLEEP(3)`.execute(k)
          handlerDone.resolve(null)
        } catch (err) {
          handlerDone.resolve(err)
          throw err
        }
        return { ok: true }
      })
    }
  })
  const url = await listen(app)
  const abortAt = { t: 0 }
  const aborted = abortedRequest(url + '/slow', started.promise.then(async () => {
    const id = await started.promise
    await until(() => runningStatement(db, id, 'SELECT SLEEP(3)'), 2000, 'the SLEEP to run')
    abortAt.t = Date.now()
  }))
  const id = await started.promise
  await aborted
  await until(() => app.db.stats().checkedOut === 0, 2000, 'release after abort')
  t.ok(Date.now() - abortAt.t < 1500, 'released well before SLEEP(3) would end')
  t.notOk(await runningStatement(db, id, 'SELECT SLEEP(3)'), 'the statement was stopped')
  t.ok((await handlerDone.promise) instanceof SessionClosedError, 'Kysely passed the SessionClosedError through')
  await assertSettled(t, app, db)
})

t.test('handler timeout during a Drizzle query: 503, released, the statement stopped, later statements refused', async (t) => {
  const db = await admin(t)
  const started = deferred<number>()
  const outcome = deferred<{ sleepErr: unknown, nextErr: unknown }>()
  const { app } = await buildApp(t, {
    plugin: { poolSize: 1, maxOverflow: 0, poolTimeout: 2000 },
    fastify: { handlerTimeout: 200 },
    setup (app) {
      const { d } = repository(app)
      app.get('/slow', async () => {
        started.resolve(await drizzleConnectionId(d))
        let sleepErr: unknown = null
        let nextErr: unknown = null
        try { await d.execute(dsql`SELECT SLEEP(2)`) } catch (err) { sleepErr = err }
        try { await d.execute(dsql`SELECT 1`) } catch (err) { nextErr = err }
        outcome.resolve({ sleepErr, nextErr })
        return { ok: true }
      })
      app.get('/id', async (request) => ({ id: await connectionId(request.db) }))
    }
  })
  const url = await listen(app)
  const t0 = Date.now()
  const res = await request(url + '/slow')
  t.equal(res.status, 503)
  t.ok(Date.now() - t0 < 1500, 'answered at the handler timeout')
  const id = await started.promise
  const other = await request(url + '/id')
  t.equal(other.status, 200, 'the only connection was free again at once')
  t.equal(JSON.parse(other.body).id, id)
  t.notOk(await runningStatement(db, id, 'SELECT SLEEP(2)'), 'the SLEEP(2) was stopped')
  const { sleepErr, nextErr } = await outcome.promise
  // Drizzle wraps statement errors in DrizzleQueryError; ours is the cause.
  t.ok((sleepErr as Error).cause instanceof SessionClosedError, 'the interrupted statement: SessionClosedError')
  t.ok((nextErr as Error).cause instanceof SessionClosedError, 'the next one too')
  await assertSettled(t, app, db)
})

t.test('200 concurrent requests each see their own session, through every API', async (t) => {
  const db = await admin(t)
  const sessions = new Set<Session>()
  const { app } = await buildApp(t, {
    plugin: { poolSize: 8, maxOverflow: 4, poolTimeout: 20_000 },
    logLevel: 'warn',
    setup (app) {
      const { k, d } = repository(app)
      app.get<{ Params: { n: string } }>('/mine/:n', async (request) => {
        const n = Number(request.params.n)
        sessions.add(app.db.current())
        await ksql`SET @fdbs_token = ${n}`.execute(k)
        await sleep(Math.random() * 5)
        const [rows] = await d.execute(dsql`SELECT @fdbs_token AS token, CONNECTION_ID() AS id`) as unknown as [Array<{ token: number, id: number }>]
        const viaCurrent = await connectionId(app.db.current())
        const viaRequest = await connectionId(request.db)
        return { n, token: Number(rows[0].token), ids: [Number(rows[0].id), viaCurrent, viaRequest] }
      })
    }
  })
  const results = await Promise.all(Array.from({ length: 200 }, async (_, n) => (await app.inject(`/mine/${n}`)).json() as { n: number, token: number, ids: number[] }))
  t.equal(results.length, 200)
  t.ok(results.every((r, n) => r.n === n && r.token === n), 'every request read back the token it set on its own connection')
  t.ok(results.every((r) => r.ids[0] === r.ids[1] && r.ids[1] === r.ids[2]), 'within each request, one connection')
  t.equal(sessions.size, 200, '200 distinct sessions')
  t.ok(app.db.stats().connects <= 12, 'never more connections than the pool allows')
  await assertSettled(t, app, db)
})

t.test('nested checkout: a warning with the stack the first time, and the timeout says so', async (t) => {
  const db = await admin(t)
  const { app, logs } = await buildApp(t, {
    plugin: { poolSize: 1, maxOverflow: 0, poolTimeout: 300 },
    setup (app) {
      const { k } = repository(app)
      app.get('/nested', async function nestedHandler (request) {
        await request.db.query('SELECT 1')
        await app.db.query('SELECT 2') // needs a second connection of a full pool: waits on itself
        return { unreachable: true }
      })
      app.get('/nested-session', async function nestedSessionHandler (request) {
        await request.db.query('SELECT 1')
        await using session = app.db.session()
        await session.query('SELECT 2')
        return { unreachable: true }
      })
      app.get('/builder', async (request) => {
        await request.db.query('SELECT 1')
        await kyselyConnectionId(k) // the request's own connection: no second checkout
        return { ok: true }
      })
      app.get('/hold', async (request) => {
        await request.db.query('SELECT SLEEP(0.6)')
        return { ok: true }
      })
    }
  })
  const first = await app.inject('/nested')
  t.equal(first.statusCode, 503)
  t.match(first.json().message, /^QueuePool limit of size 1 overflow 0 reached, connection timed out, timeout 0\.30; this request already holds a connection of this pool and waited for a second one \(a nested checkout/)
  const warnings = logs.filter((l) => typeof l.msg === 'string' && l.msg.startsWith('Nested checkout'))
  t.equal(warnings.length, 1, 'warned')
  t.match(warnings[0], { level: 40, heldBy: { route: 'GET /nested', queries: 1 } })
  t.match(String(warnings[0].nestedCheckoutStack), /nestedHandler/, 'the stack runs through the handler that holds the first connection')
  const second = await app.inject('/nested-session')
  t.equal(second.statusCode, 503)
  t.match(second.json().message, /nested checkout/)
  t.equal(logs.filter((l) => typeof l.msg === 'string' && l.msg.startsWith('Nested checkout')).length, 1, 'warned once per pool')
  t.equal((await app.inject('/builder')).statusCode, 200, 'a builder inside the request uses its connection: no nested checkout')
  // Two requests contending for the one connection is not a nested checkout.
  const [held, waited] = await Promise.all([app.inject('/hold'), sleep(50).then(() => app.inject('/builder'))])
  t.equal(held.statusCode, 200)
  t.equal(waited.statusCode, 503)
  t.equal(waited.json().message, 'QueuePool limit of size 1 overflow 0 reached, connection timed out, timeout 0.30', 'a plain wait keeps the plain message')
  await assertSettled(t, app, db)
})

t.test('a named registration: kysely(app.dbs.NAME) and drizzle(app.dbs.NAME) follow request.dbs.NAME', async (t) => {
  const db = await admin(t)
  const { app } = await buildApp(t, {
    async setup (app) {
      await app.register(dbSession, { name: 'reports', connection: await databaseUrl(), poolCloseTimeout: 1000 })
      app.get('/named', { config: { dbs: { reports: { transaction: true } } } }, async (request) => {
        const k = kysely<Database>(app.dbs.reports)
        const d = drizzle(app.dbs.reports)
        return {
          main: await connectionId(request.db),
          named: await connectionId(request.dbs.reports),
          kysely: await kyselyConnectionId(k),
          drizzle: await drizzleConnectionId(d),
          inTransaction: request.dbs.reports.inTransaction
        }
      })
    }
  })
  const body = (await app.inject('/named')).json() as Record<string, number | boolean>
  t.not(body.named, body.main, 'two registrations, two connections')
  t.same([body.kysely, body.drizzle], [body.named, body.named], 'the builders on the named facade use the named session')
  t.equal(body.inTransaction, true)
  await assertSettled(t, app, db)
})

t.test('a task left running after its request ended is not a nested checkout', async (t) => {
  const db = await admin(t)
  const floating = deferred<unknown>()
  const { app, logs } = await buildApp(t, {
    plugin: { poolSize: 1, maxOverflow: 0, poolTimeout: 3000 },
    setup (app) {
      app.get('/float', async (request) => {
        await request.db.query('SELECT 1')
        // Still in this request's async context, but after it ended: it holds nothing.
        setTimeout(() => { app.db.query('SELECT 2').then(() => floating.resolve(null), floating.resolve) }, 150)
        return { ok: true }
      })
      app.get('/hold', async (request) => {
        await request.db.query('SELECT SLEEP(0.6)')
        return { ok: true }
      })
    }
  })
  t.equal((await app.inject('/float')).statusCode, 200)
  t.equal((await app.inject('/hold')).statusCode, 200)
  t.equal(await floating.promise, null, 'the late task waited for the pool like any other checkout, then ran')
  t.equal(logs.filter((l) => typeof l.msg === 'string' && l.msg.startsWith('Nested checkout')).length, 0, 'no nested-checkout warning')
  await assertSettled(t, app, db)
})

t.test('a nested checkout refused at once (poolTimeout 0) says so too', async (t) => {
  const db = await admin(t)
  const { app } = await buildApp(t, {
    plugin: { poolSize: 1, maxOverflow: 0, poolTimeout: 0 },
    setup (app) {
      app.get('/nested', async (request) => {
        await request.db.query('SELECT 1')
        await app.db.query('SELECT 2')
        return { unreachable: true }
      })
    }
  })
  const res = await app.inject('/nested')
  t.equal(res.statusCode, 503)
  t.match(res.json().message, /^QueuePool limit of size 1 overflow 0 reached, connection timed out, timeout 0\.00; this request already holds a connection/)
  await assertSettled(t, app, db)
})

t.test('a failed Drizzle query answers as our error: no SQL or values in the response, a lost connection stays a 503', async (t) => {
  const db = await admin(t)
  const missing = mysqlTable('inreq_no_such_table', { id: int('id').primaryKey(), secret: varchar('secret', { length: 50 }) })
  const { app, logs } = await buildApp(t, {
    setup (app) {
      const d = drizzle(app.db)
      app.get('/missing', async () => d.select().from(missing).where(eq(missing.secret, 'hunter2-value')))
      app.get('/lost', async () => {
        const id = await drizzleConnectionId(d)
        await db.query('KILL CONNECTION ?', [id])
        return d.select().from(things)
      })
      // A Drizzle error (wrapping a 503 of ours) inside the application's own error.
      app.get('/own-wrapper', async () => {
        const id = await drizzleConnectionId(d)
        await db.query('KILL CONNECTION ?', [id])
        try {
          await d.select().from(things)
        } catch (err) {
          throw new Error('saving the order failed', { cause: err })
        }
      })
      app.get('/sent', async (_request, reply) => {
        try {
          return await d.select().from(missing)
        } catch (err) {
          return reply.send(err)
        }
      })
      app.get('/pre-handler', { preHandler: async () => { await d.select().from(missing) } }, async () => 'unreached')
      // A custom error handler sees our face too (onError runs before it), and the cause for more.
      void app.register(async (child) => {
        child.setErrorHandler((error: Error & { statusCode?: number, code?: string }, _request, reply) => {
          void reply.code(error.statusCode ?? 500).send({ mine: true, code: error.code, message: error.message })
        })
        child.get('/custom', async () => d.select().from(missing))
      })
    }
  })
  const failed = await app.inject('/missing')
  t.equal(failed.statusCode, 500)
  const body = failed.json() as { code?: string, message?: string }
  t.equal(body.code, 'FST_DB_QUERY_FAILED', 'our code, not Drizzle\'s')
  t.notMatch(failed.body, /select|inreq_no_such_table|hunter2|Failed query|params/i, 'neither the SQL nor its values')
  const line = logs.find((l) => (l as { err?: unknown }).err !== undefined) as { err?: { query?: string, params?: unknown } } | undefined
  t.match(line?.err?.query, /inreq_no_such_table/, 'the log keeps the SQL for operators')

  const lost = await app.inject('/lost')
  t.equal(lost.statusCode, 503, 'a lost connection is a 503, as without Drizzle')
  t.equal(lost.headers['retry-after'], '1')
  t.equal((lost.json() as { code?: string }).code, 'FST_DB_DISCONNECTED')
  t.notMatch(lost.body, /select|inreq_things|Failed query/i)

  for (const url of ['/sent', '/pre-handler', '/custom']) {
    const res = await app.inject(url)
    t.equal(res.statusCode, 500, url)
    t.equal((res.json() as { code?: string }).code, 'FST_DB_QUERY_FAILED', `${url}: our code`)
    t.notMatch(res.body, /select|inreq_no_such_table|Failed query|params/i, `${url}: no SQL`)
  }
  t.equal((await app.inject('/custom')).json<{ mine?: boolean }>().mine, true, 'the custom error handler answered')

  // An application's own wrapper is its own business: its message and status stay (not our 503).
  const own = await app.inject('/own-wrapper')
  t.equal(own.statusCode, 500, 'its status, not the 503 of the error inside')
  t.equal((own.json() as { message?: string }).message, 'saving the order failed')
  await assertSettled(t, app, db)
})
