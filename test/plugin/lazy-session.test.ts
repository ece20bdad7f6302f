import t from 'tap'
import type { RowDataPacket } from 'mysql2'
import { admin } from '../helpers/pool'
import { assertSettled, buildApp, completedLines, countCheckins } from './_helpers'

t.test('a route that never touches request.db takes no connection', async (t) => {
  const db = await admin(t)
  const { app, logs } = await buildApp(t, {
    setup (app) {
      app.get('/plain', async () => ({ ok: true }))
      // Touching request.db (creating the session) without a query must not check out either.
      app.get('/touch', async (request) => ({ inTransaction: request.db.inTransaction, closed: request.db.closed }))
    }
  })
  const counts = countCheckins(app)
  const before = app.db.stats()
  for (let i = 0; i < 3; i++) {
    const res = await app.inject('/plain')
    t.equal(res.statusCode, 200)
  }
  const res = await app.inject('/touch')
  t.equal(res.statusCode, 200)
  t.same(res.json(), { inTransaction: false, closed: false })
  const after = app.db.stats()
  t.equal(after.checkouts, before.checkouts, 'checkouts unchanged')
  t.equal(after.connects, 0, 'no connection was ever opened')
  t.same(counts, { checkouts: 0, checkins: 0 }, 'no pool events')
  const lines = completedLines(logs)
  t.equal(lines.length, 4)
  for (const l of lines.slice(0, 3)) t.notOk('dbSession' in l, 'no dbSession on a request that never touched request.db')
  // /touch created the session object but ran nothing: if it is logged, it shows zero work.
  if ('dbSession' in lines[3]) t.match(lines[3].dbSession, { queries: 0, waitMs: 0, heldMs: 0 })
  await assertSettled(t, app, db)
})

t.test('the first query checks out; later queries reuse it; released once', async (t) => {
  const db = await admin(t)
  const { app, logs } = await buildApp(t, {
    setup (app) {
      app.get('/q', async (request) => {
        const before = app.db.stats().checkedOut
        const [a] = await request.db.query<RowDataPacket[]>('SELECT CONNECTION_ID() AS id')
        const during = app.db.stats().checkedOut
        const [b] = await request.db.query<RowDataPacket[]>('SELECT CONNECTION_ID() AS id')
        const [c] = await request.db.execute<RowDataPacket[]>('SELECT ? AS v', [7])
        return { before, during, same: a[0].id === b[0].id, v: c[0].v, stats: request.db.stats() }
      })
    }
  })
  const counts = countCheckins(app)
  const res = await app.inject('/q')
  t.equal(res.statusCode, 200)
  const body = res.json()
  t.equal(body.before, 0, 'nothing checked out before the first query')
  t.equal(body.during, 1, 'the first query checked out one connection')
  t.equal(body.same, true, 'one connection for the whole request')
  t.equal(body.v, 7, 'execute works')
  t.equal(body.stats.queries, 3, 'session counted three statements')
  t.same(counts, { checkouts: 1, checkins: 1 }, 'one checkout, one checkin')
  t.equal(app.db.stats().connects, 1)
  const line = completedLines(logs)[0]
  t.ok(line !== undefined, 'request completed logged')
  const s = line.dbSession as { queries: number, waitMs: number, heldMs: number }
  t.equal(s.queries, 3)
  t.type(s.waitMs, 'number')
  t.ok(s.waitMs >= 0 && s.waitMs < 2000, `waitMs ${s.waitMs} plausible`)
  t.type(s.heldMs, 'number')
  t.ok(s.heldMs >= 0 && s.heldMs < 2000, `heldMs ${s.heldMs} plausible`)
  await assertSettled(t, app, db)
})

t.test('session stats: waitMs reflects a pool wait, heldMs the time held', async (t) => {
  const db = await admin(t)
  const { app, logs } = await buildApp(t, {
    plugin: { poolSize: 1, maxOverflow: 0, poolTimeout: 5000 },
    setup (app) {
      app.get('/hold', async (request) => {
        await request.db.query('SELECT SLEEP(0.3)')
        return { ok: true }
      })
      app.get('/wait', async (request) => {
        await request.db.query('SELECT 1')
        return request.db.stats()
      })
    }
  })
  const counts = countCheckins(app)
  const holding = app.inject('/hold')
  // Let /hold take the only connection first.
  while (app.db.stats().checkedOut === 0) await new Promise((resolve) => setTimeout(resolve, 5))
  const waited = await app.inject('/wait')
  t.equal((await holding).statusCode, 200)
  t.equal(waited.statusCode, 200)
  const s = waited.json()
  t.ok(s.waitMs >= 150, `waitMs ${s.waitMs} shows the wait behind /hold`)
  t.ok(s.waitMs < 3000, `waitMs ${s.waitMs} bounded`)
  t.equal(s.queries, 1)
  const holdLine = completedLines(logs).find((l) => (l.req as { url?: string } | undefined)?.url === '/hold') ??
    completedLines(logs).find((l) => ((l.dbSession as { heldMs: number } | undefined)?.heldMs ?? 0) >= 250)
  t.ok(holdLine !== undefined)
  const held = (holdLine?.dbSession as { heldMs: number }).heldMs
  t.ok(held >= 250 && held < 3000, `heldMs ${held} covers the SLEEP(0.3)`)
  t.same(counts, { checkouts: 2, checkins: 2 })
  await assertSettled(t, app, db)
})
