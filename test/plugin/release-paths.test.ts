/**
 * request.db is given back exactly once on every way a request can end. Checkouts and checkins
 * are counted through the pool's events.
 */
import http from 'node:http'
import t from 'tap'
import type { RowDataPacket } from 'mysql2'
import { SessionClosedError } from '../../lib'
import type { Session } from '../../lib'
import { connectionId, runningStatement } from '../helpers/db'
import { admin, sleep, until } from '../helpers/pool'
import { abortedRequest, assertSettled, buildApp, countCheckins, deferred, listen, request } from './_helpers'

t.test('success: released once', async (t) => {
  const db = await admin(t)
  const { app } = await buildApp(t, {
    setup (app) {
      app.get('/ok', async (request) => {
        await request.db.query('SELECT 1')
        await request.db.query('SELECT 2')
        return { ok: true }
      })
    }
  })
  const counts = countCheckins(app)
  for (let i = 0; i < 3; i++) t.equal((await app.inject('/ok')).statusCode, 200)
  t.same(counts, { checkouts: 3, checkins: 3 }, 'one checkout and one checkin per request')
  await assertSettled(t, app, db)
})

t.test('handler throws: 500, released once', async (t) => {
  const db = await admin(t)
  const { app } = await buildApp(t, {
    setup (app) {
      app.get('/boom', async (request) => {
        await request.db.query('SELECT 1')
        throw new Error('handler failed')
      })
    }
  })
  const counts = countCheckins(app)
  const res = await app.inject('/boom')
  t.equal(res.statusCode, 500)
  t.same(counts, { checkouts: 1, checkins: 1 })
  await assertSettled(t, app, db)
})

t.test('hooks: validation 400, 404, onRequest that throws after using the db', async (t) => {
  const db = await admin(t)
  const { app } = await buildApp(t, {
    setup (app) {
      // App-wide hooks touch request.db before routing/validation, so the session exists on every path.
      app.addHook('onRequest', async (request) => {
        if (request.headers['x-touch'] === 'onRequest' || request.headers['x-touch'] === 'throw') {
          await request.db.query('SELECT 1')
        }
        if (request.headers['x-touch'] === 'throw') throw app.httpErrors.forbidden('no')
      })
      app.addHook('preHandler', async (request) => {
        if (request.headers['x-touch'] === 'preHandler') await request.db.query('SELECT 1')
      })
      app.post('/validated', {
        schema: { body: { type: 'object', required: ['name'], properties: { name: { type: 'string' } } } }
      }, async (request) => {
        await request.db.query('SELECT 1')
        return { ok: true }
      })
    }
  })
  const counts = countCheckins(app)

  let res = await app.inject({ method: 'POST', url: '/validated', payload: { nope: 1 }, headers: { 'x-touch': 'onRequest' } })
  t.equal(res.statusCode, 400, 'schema validation error')
  t.same(counts, { checkouts: 1, checkins: 1 }, 'released on a validation error')

  res = await app.inject({ url: '/missing', headers: { 'x-touch': 'onRequest' } })
  t.equal(res.statusCode, 404)
  t.same(counts, { checkouts: 2, checkins: 2 }, 'released on a 404 (onRequest)')

  res = await app.inject({ url: '/missing', headers: { 'x-touch': 'preHandler' } })
  t.equal(res.statusCode, 404)
  t.same(counts, { checkouts: 3, checkins: 3 }, 'released on a 404 (preHandler)')

  res = await app.inject({ url: '/validated', method: 'POST', payload: { name: 'x' }, headers: { 'x-touch': 'throw' } })
  t.equal(res.statusCode, 403, 'onRequest hook threw after using the db')
  t.same(counts, { checkouts: 4, checkins: 4 }, 'released when an onRequest hook throws')

  res = await app.inject({ method: 'POST', url: '/validated', payload: { name: 'x' } })
  t.equal(res.statusCode, 200)
  t.same(counts, { checkouts: 5, checkins: 5 })
  await assertSettled(t, app, db)
})

t.test('client abort mid-query: the statement is killed, the connection reset and reused, released well before the query ends', async (t) => {
  const db = await admin(t)
  const started = deferred<number>()
  const handlerDone = deferred<unknown>()
  const { app } = await buildApp(t, {
    setup (app) {
      app.get('/slow', async (request) => {
        started.resolve(await connectionId(request.db))
        try {
          await request.db.query('SELECT SLEEP(3)')
          handlerDone.resolve(null)
        } catch (err) {
          handlerDone.resolve(err)
          throw err
        }
        return { ok: true }
      })
    }
  })
  const counts = countCheckins(app)
  const url = await listen(app)
  const abortAt = { t: 0 }
  const aborted = abortedRequest(url + '/slow', started.promise.then(async () => {
    await sleep(100) // the SLEEP(3) is running
    abortAt.t = Date.now()
  }))
  const id = await started.promise
  await aborted
  await until(() => app.db.stats().checkedOut === 0, 2000, 'release after abort')
  const releasedAfter = Date.now() - abortAt.t
  t.ok(releasedAfter < 1500, `released ${releasedAfter} ms after the abort, well before SLEEP(3) ends`)
  t.notOk(await runningStatement(db, id, 'SELECT SLEEP(3)'), 'the SLEEP(3) was killed (KILL QUERY) before the connection came back')
  t.ok(Date.now() - abortAt.t < 2500, 'killed well before the SLEEP(3) would end')
  const err = await handlerDone.promise
  t.ok(err instanceof SessionClosedError, 'the handler\'s query failed with SessionClosedError instead of finishing on a returned connection')
  t.equal(app.db.stats().invalidations, 0, 'the connection was kept: interrupted and reset, not destroyed')
  await sleep(100)
  t.same(counts, { checkouts: 1, checkins: 1 }, 'exactly one checkin')
  // The pool is healthy afterwards, and the interrupted connection serves again.
  const res = await app.inject('/slow-check')
  t.equal(res.statusCode, 404)
  const [rows] = await app.db.query<RowDataPacket[]>('SELECT CONNECTION_ID() AS id')
  t.equal(Number(rows[0].id), id, 'the same connection serves the next statement, after its reset')
  await assertSettled(t, app, db)
})

t.test('connectionTimeout fires mid-handler: released, the statement killed', async (t) => {
  const db = await admin(t)
  const started = deferred<number>()
  const { app } = await buildApp(t, {
    fastify: { connectionTimeout: 300 },
    setup (app) {
      app.get('/slow', async (request) => {
        started.resolve(await connectionId(request.db))
        await request.db.query('SELECT SLEEP(2)')
        return { ok: true }
      })
    }
  })
  const counts = countCheckins(app)
  const url = await listen(app)
  const t0 = Date.now()
  const clientErr = await new Promise<Error | undefined>((resolve) => {
    const req = http.get(url + '/slow', { agent: false }, (res) => { res.resume(); res.on('end', () => resolve(undefined)) })
    req.on('error', resolve)
  })
  t.ok(clientErr instanceof Error, 'the client saw the socket closed by the timeout')
  const id = await started.promise
  await until(() => app.db.stats().checkedOut === 0, 2000, 'release after the connection timeout')
  t.ok(Date.now() - t0 < 1700, `released ${Date.now() - t0} ms after the request started, before SLEEP(2) ends`)
  t.notOk(await runningStatement(db, id, 'SELECT SLEEP(2)'), 'the SLEEP(2) was killed before the connection came back')
  await sleep(100)
  t.same(counts, { checkouts: 1, checkins: 1 })
  await assertSettled(t, app, db)
})

t.test('handlerTimeout: 503 while the handler runs; its next query throws SessionClosedError; the connection is reused only once idle and reset', async (t) => {
  const db = await admin(t)
  const first = deferred<number>()
  const outcome = deferred<{ sleepErr: unknown, nextErr: unknown }>()
  const { app } = await buildApp(t, {
    // One slot only: the second request can run only if the timed-out one's slot was freed.
    plugin: { poolSize: 1, maxOverflow: 0, poolTimeout: 2000 },
    fastify: { handlerTimeout: 200 },
    setup (app) {
      app.get('/slow', async (request) => {
        first.resolve(await connectionId(request.db))
        let sleepErr: unknown = null
        let nextErr: unknown = null
        try { await request.db.query('SELECT SLEEP(1)') } catch (err) { sleepErr = err }
        try { await request.db.query('SELECT 1') } catch (err) { nextErr = err }
        outcome.resolve({ sleepErr, nextErr })
        return { ok: true }
      })
      app.get('/id', async (request) => ({ id: await connectionId(request.db) }))
    }
  })
  const counts = countCheckins(app)
  const url = await listen(app)
  const t0 = Date.now()
  const res = await request(url + '/slow')
  t.equal(res.status, 503, 'Fastify answered 503 on the handler timeout')
  t.ok(Date.now() - t0 < 900, 'answered at the handler timeout, not after the SLEEP(1)')
  const id = await first.promise
  // Another request while the timed-out handler still runs must get a different connection.
  const t1 = Date.now()
  const other = await request(url + '/id')
  t.equal(other.status, 200)
  // With one slot, the other request got the same connection: quickly, so not while it was still
  // busy with the SLEEP(1) (its statement would have queued behind it).
  t.ok(Date.now() - t1 < 600, 'the only slot was free at once, while the timed-out handler still ran')
  t.equal(JSON.parse(other.body).id, id, 'the one connection served the other request after its statement was killed and it was reset')
  const { sleepErr, nextErr } = await outcome.promise
  t.ok(sleepErr instanceof SessionClosedError, 'the interrupted SLEEP(1) reports SessionClosedError to the handler')
  t.ok(nextErr instanceof SessionClosedError, 'the statement after the timeout throws SessionClosedError')
  t.equal((nextErr as SessionClosedError).code, 'FST_DB_SESSION_CLOSED')
  await sleep(100)
  t.same(counts, { checkouts: 2, checkins: 2 }, 'each checkout checked in exactly once')
  await assertSettled(t, app, db)
})

t.test('hijacked reply: released (inject and real socket)', async (t) => {
  const db = await admin(t)
  const { app } = await buildApp(t, {
    setup (app) {
      app.get('/hijack', async (request, reply) => {
        reply.hijack()
        const [rows] = await request.db.query<RowDataPacket[]>('SELECT 42 AS v')
        reply.raw.writeHead(200, { 'content-type': 'text/plain' })
        reply.raw.end(String(rows[0].v))
      })
    }
  })
  const counts = countCheckins(app)
  const res = await app.inject('/hijack')
  t.equal(res.statusCode, 200)
  t.equal(res.body, '42')
  await until(() => counts.checkins === 1, 2000, 'checkin after a hijacked reply (inject)')
  t.same(counts, { checkouts: 1, checkins: 1 }, 'released under inject')
  const url = await listen(app)
  const real = await request(url + '/hijack')
  t.equal(real.status, 200)
  t.equal(real.body, '42')
  await until(() => counts.checkins === 2, 2000, 'checkin after a hijacked reply (socket)')
  t.same(counts, { checkouts: 2, checkins: 2 }, 'released over a real socket')
  await assertSettled(t, app, db)
})

t.test('a session used after its request ended throws SessionClosedError', async (t) => {
  const db = await admin(t)
  let kept: Session | undefined
  const { app } = await buildApp(t, {
    setup (app) {
      app.get('/keep', async (request) => {
        kept = request.db
        await request.db.query('SELECT 1')
        return { ok: true }
      })
    }
  })
  const counts = countCheckins(app)
  t.equal((await app.inject('/keep')).statusCode, 200)
  const s = kept as Session
  t.equal(s.closed, true, 'closed when the request ended')
  await t.rejects(s.query('SELECT 1'), { name: 'SessionClosedError', code: 'FST_DB_SESSION_CLOSED' })
  await t.rejects(s.execute('SELECT 1'), SessionClosedError)
  await t.rejects(s.begin(), SessionClosedError)
  await t.rejects(s.rollback(), SessionClosedError)
  await t.rejects(s.commit(), SessionClosedError)
  await t.rejects(s.transaction(async () => 1), SessionClosedError)
  await s.close() // idempotent
  t.same(counts, { checkouts: 1, checkins: 1 }, 'no new checkout by the closed session')
  await assertSettled(t, app, db)
})
