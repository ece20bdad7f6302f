/**
 * Overload over real sockets: a checkout still waiting when its request ends leaves the pool's
 * queue at once, and no connection is ever handed to a request that has ended. Under
 * handlerTimeout the wait never outlasts the handler's time.
 */
import http from 'node:http'
import t, { type Test } from 'tap'
import type { FastifyInstance } from 'fastify'
import type { Connection } from 'mysql2/promise'
import { admin, sleep, until } from '../helpers/pool'
import { assertSettled, buildApp, deferred, listen, request } from './_helpers'

/** GET that the client abandons after `ms`, or once `when` resolves (then after `ms` more). */
function abandonAfter (url: string, ms: number, when: Promise<unknown> = Promise.resolve()): Promise<void> {
  return new Promise((resolve) => {
    const req = http.get(url, { agent: false })
    req.on('error', () => {})
    req.on('close', () => resolve())
    void when.then(() => setTimeout(() => req.destroy(), ms), () => req.destroy())
  })
}

/**
 * An app whose `/hold` route keeps its connection until `release` resolves, and whose `/q` route
 * runs one statement: a pool of `poolSize` held by slow requests, queued fast ones behind them.
 */
async function holdingApp (t: Test, poolSize: number, poolTimeout: number): Promise<{ db: Connection, app: FastifyInstance, url: string, release: { resolve: () => void } }> {
  const db = await admin(t)
  const release = deferred()
  const { app } = await buildApp(t, {
    plugin: { poolSize, maxOverflow: 0, poolTimeout },
    setup (app) {
      app.get('/hold', async (request) => {
        await request.db.query('SELECT 1')
        await release.promise
        return { ok: true }
      })
      app.get('/q', async (request) => {
        await request.db.query('SELECT 1')
        return { ok: true }
      })
    }
  })
  return { db, app, url: await listen(app), release }
}

t.test('clients that give up while queued leave the queue at once; only live requests get a connection', async (t) => {
  const { db, app, url, release } = await holdingApp(t, 1, 10_000)
  const holding = request(`${url}/hold`)
  await until(() => app.db.stats().checkedOut === 1, 2000, 'the slow request to hold the connection')
  // The clients give up once all five are queued (a fixed delay could pass before a slow machine queued them).
  const queued = until(() => app.db.stats().waiting === 5, 5000, 'five waiters')
  const gaveUp = Array.from({ length: 5 }, () => abandonAfter(`${url}/q`, 20, queued))
  await queued
  await Promise.all(gaveUp)
  await until(() => app.db.stats().waiting === 0, 1000, 'the queue to empty')
  t.equal(app.db.stats().waiting, 0, 'waiting drops when the clients leave, not when the pool frees up')
  const checkoutsBefore = app.db.stats().checkouts
  release.resolve()
  t.equal((await holding).status, 200)
  t.equal((await request(`${url}/q`)).status, 200, 'a live request is served next')
  t.equal(app.db.stats().checkouts, checkoutsBefore + 1, 'no dead request was handed a connection')
  t.equal(app.db.stats().abandoned, 5)
  await assertSettled(t, app, db)
})

t.test('hundreds of queued aborts: waiting back to 0, checkouts count only live requests, no leak', async (t) => {
  const { db, app, url, release } = await holdingApp(t, 2, 20_000)
  const holding = [request(`${url}/hold`), request(`${url}/hold`)]
  await until(() => app.db.stats().checkedOut === 2, 2000, 'both connections held')
  const queued = until(() => app.db.stats().waiting === 210, 10_000, 'all queued')
  // Once all are queued, the 200 give up over the next 200 ms, spread out.
  const dead = Array.from({ length: 200 }, (_v, i) => abandonAfter(`${url}/q`, (i % 50) * 4, queued))
  const live = Array.from({ length: 10 }, () => request(`${url}/q`))
  await queued
  await Promise.all(dead)
  await until(() => app.db.stats().waiting === 10, 2000, 'dead waiters gone')
  t.equal(app.db.stats().waiting, 10, 'only the live requests still wait')
  const before = app.db.stats().checkouts
  release.resolve()
  for (const r of [...holding, ...live]) t.equal((await r).status, 200)
  t.equal(app.db.stats().checkouts, before + 10, 'exactly the live requests were served')
  t.equal(app.db.stats().abandoned, 200)
  t.equal(app.db.stats().timeouts, 0)
  await assertSettled(t, app, db)
})

t.test('handlerTimeout while queued: answered 503 at the handler deadline, and the checkout leaves the queue', async (t) => {
  const db = await admin(t)
  const release = deferred()
  const { app } = await buildApp(t, {
    plugin: { poolSize: 1, maxOverflow: 0, poolTimeout: 10_000 },
    setup (app) {
      app.get('/hold', async (request) => {
        await request.db.query('SELECT 1')
        await release.promise
        return { ok: true }
      })
      app.get('/bounded', { handlerTimeout: 150 }, async (request) => {
        await request.db.query('SELECT 1')
        return { ok: true }
      })
    }
  })
  const url = await listen(app)
  const holding = request(`${url}/hold`)
  await until(() => app.db.stats().checkedOut === 1, 2000, 'held')
  const started = performance.now()
  const results = await Promise.all(Array.from({ length: 3 }, () => request(`${url}/bounded`)))
  const took = performance.now() - started
  for (const r of results) t.equal(r.status, 503)
  t.ok(took < 2000, `answered at the handler deadline, not poolTimeout (${took.toFixed(0)} ms)`)
  await until(() => app.db.stats().waiting === 0, 1000, 'queue empty')
  t.equal(app.db.stats().waiting, 0, 'the timed-out checkouts left the queue')
  const before = app.db.stats().checkouts
  release.resolve()
  t.equal((await holding).status, 200)
  await sleep(50)
  t.equal(app.db.stats().checkouts, before, 'none of them was handed a connection afterwards')
  await assertSettled(t, app, db)
})

t.test('a connection opened for a request that ended goes to the next waiter, never lost', async (t) => {
  const db = await admin(t)
  const { app } = await buildApp(t, {
    plugin: { poolSize: 1, maxOverflow: 0, poolTimeout: 5000 },
    setup (app) {
      app.get('/q', async (request) => {
        await request.db.query('SELECT 1')
        return { ok: true }
      })
    }
  })
  // Slow down connects so the first request ends while its connection is being opened.
  const pool = app.db.pool as unknown as { _open: (record: unknown) => Promise<void> }
  const open = pool._open.bind(pool)
  pool._open = async (record) => {
    await sleep(200)
    await open(record)
  }
  const url = await listen(app)
  const gone = abandonAfter(`${url}/q`, 50)
  await sleep(20)
  const live = request(`${url}/q`)
  await gone
  t.equal((await live).status, 200, 'the live request got the connection opened for the dead one')
  t.equal(app.db.stats().connects, 1, 'one connection opened')
  t.equal(app.db.stats().checkouts, 1, 'one checkout: the live request')
  t.equal(app.db.stats().checkedIn, 1, 'and it is back in the pool')
  await assertSettled(t, app, db)
})
