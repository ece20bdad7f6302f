/**
 * Database errors as HTTP answers: pool timeout → 503 + Retry-After, database unreachable → fast
 * 503, SQL error → 500 without SQL or server text (the log has it all).
 */
import t from 'tap'
import { performance } from 'node:perf_hooks'
import { admin, until } from '../helpers/pool'
import { assertSettled, buildApp, countCheckins } from './_helpers'

t.test('pool timeout: 503 with retry-after; saturation and timeout warnings with stats', async (t) => {
  const db = await admin(t)
  const { app, logs } = await buildApp(t, {
    plugin: { poolSize: 1, maxOverflow: 0, poolTimeout: 200 },
    setup (app) {
      app.get('/hold', async (request) => {
        await request.db.query('SELECT SLEEP(0.8)')
        return { ok: true }
      })
      app.get('/q', async (request) => {
        await request.db.query('SELECT 1')
        return { ok: true }
      })
    }
  })
  const counts = countCheckins(app)
  const holding = app.inject('/hold')
  await until(() => app.db.stats().checkedOut === 1, 2000, '/hold to take the only connection')
  const started = performance.now()
  const res = await app.inject('/q')
  const elapsed = performance.now() - started
  t.equal(res.statusCode, 503)
  t.equal(res.headers['retry-after'], '1', 'Retry-After header')
  t.ok(elapsed >= 190 && elapsed < 1500, `timed out after ${Math.round(elapsed)} ms (poolTimeout 200)`)
  const body = res.json()
  t.equal(body.code, 'FST_DB_POOL_TIMEOUT')
  t.equal(body.message, 'QueuePool limit of size 1 overflow 0 reached, connection timed out, timeout 0.20')
  t.equal((await holding).statusCode, 200)

  const saturated = logs.find((l) => l.level === 40 && /saturated/.test(l.msg ?? ''))
  t.ok(saturated !== undefined, 'a saturation warning was logged when a waiter appeared')
  t.match(saturated?.dbPool, { size: 1, checkedOut: 1, waiting: 1 })
  const timeout = logs.find((l) => l.level === 40 && l.msg === body.message)
  t.ok(timeout !== undefined, 'a timeout warning was logged')
  t.match(timeout?.dbPool, { size: 1, checkedIn: 0, checkedOut: 1, overflow: 0, timeouts: 1 }, 'with the pool stats')
  t.same(counts, { checkouts: 1, checkins: 1 }, 'the timed-out request never checked out')
  await assertSettled(t, app, db)
})

t.test('database unreachable: a fast 503 with a clear message', async (t) => {
  const db = await admin(t)
  const { app, logs } = await buildApp(t, {
    plugin: { connection: 'mysql://root@127.0.0.1:1/test', poolTimeout: 5000 },
    setup (app) {
      app.get('/q', async (request) => {
        await request.db.query('SELECT 1')
        return { ok: true }
      })
    }
  })
  const counts = countCheckins(app)
  const started = performance.now()
  const res = await app.inject('/q')
  const elapsed = performance.now() - started
  t.equal(res.statusCode, 503)
  t.ok(elapsed < 1000, `answered in ${Math.round(elapsed)} ms, well under poolTimeout 5000`)
  const body = res.json()
  t.equal(body.code, 'FST_DB_UNAVAILABLE')
  t.match(body.message, /^Cannot connect to the database \(ECONNREFUSED\)$/)
  t.ok(res.headers['retry-after'] !== undefined, 'Retry-After header')
  t.equal(app.db.stats().checkedOut, 0)
  t.equal(app.db.stats().connectErrors, 1)
  t.same(counts, { checkouts: 0, checkins: 0 })
  // A second request fails the same way (the failed slot was freed).
  t.equal((await app.inject('/q')).statusCode, 503)
  t.equal(app.db.stats().checkedOut, 0)
  t.ok(logs.some((l) => l.level >= 50 && (l.err as { code?: string } | undefined)?.code === 'FST_DB_UNAVAILABLE'), 'the 503 is logged')
  await assertSettled(t, app, db)
})

t.test('SQL error: 500 without SQL or server text; the log has the full error', async (t) => {
  const db = await admin(t)
  const { app, logs, rawLogs } = await buildApp(t, {
    setup (app) {
      app.get('/bad', async (request) => {
        await request.db.query('SELEC broken FROM nowhere')
        return { ok: true }
      })
      app.get('/dup', async (request) => {
        await request.db.query('SELECT * FROM plugin_http_missing_table')
        return { ok: true }
      })
    }
  })
  const counts = countCheckins(app)
  const res = await app.inject('/bad')
  t.equal(res.statusCode, 500)
  t.notMatch(res.body, /SELEC/, 'no SQL in the body')
  t.notMatch(res.body, /syntax/i, 'no server text in the body')
  t.notMatch(res.body, /nowhere/, 'no SQL fragment in the body')
  const body = res.json()
  t.equal(body.code, 'FST_DB_QUERY_FAILED')
  t.equal(body.message, 'Database query failed (ER_PARSE_ERROR)')

  const res2 = await app.inject('/dup')
  t.equal(res2.statusCode, 500)
  t.notMatch(res2.body, /plugin_http_missing_table/, 'no table name in the body')
  t.notMatch(res2.body, /doesn't exist/)

  const errLine = logs.find((l) => l.level === 50 && (l.err as { code?: string } | undefined)?.code === 'FST_DB_QUERY_FAILED')
  t.ok(errLine !== undefined, 'the error is logged at level error')
  const logged = rawLogs.join('')
  t.match(logged, /syntax/i, 'the log has the server text')
  t.match(logged, /ER_PARSE_ERROR/)
  t.match(logged, /plugin_http_missing_table/, 'the log has the second error too')
  t.same(counts, { checkouts: 2, checkins: 2 })
  await assertSettled(t, app, db)
})
