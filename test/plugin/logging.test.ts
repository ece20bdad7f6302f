/**
 * Request logs: `dbPool` on every `request completed` line, `dbSession` only where the database
 * was used; `logger: false` works; credentials never reach a log line or a response.
 */
import t from 'tap'
import type { RowDataPacket } from 'mysql2'
import { databaseUrl } from '../helpers/db'
import { admin, until } from '../helpers/pool'
import { assertSettled, buildApp, completedLines, countCheckins } from './_helpers'

const USER = 'fdbs_test'
const PASSWORD = 'S3cretPw!'

async function urlFor (user: string, password: string): Promise<string> {
  const u = new URL(await databaseUrl())
  u.username = user
  u.password = encodeURIComponent(password)
  return u.toString()
}

t.test('dbPool on every request completed line, dbSession only when the db was used', async (t) => {
  const db = await admin(t)
  const { app, logs } = await buildApp(t, {
    setup (app) {
      app.get('/plain', async () => ({ ok: true }))
      app.get('/db', async (request) => {
        await request.db.query('SELECT 1')
        await request.db.query('SELECT 2')
        return { ok: true }
      })
      app.get('/db-throws', async (request) => {
        await request.db.query('SELECT 1')
        throw new Error('nope')
      })
    }
  })
  const counts = countCheckins(app)
  const urls = ['/plain', '/db', '/missing', '/db-throws']
  for (const url of urls) await app.inject(url)
  const lines = completedLines(logs)
  t.equal(lines.length, urls.length, 'one request completed line per request')
  for (const line of lines) {
    t.match(line.dbPool, { size: Number, checkedIn: Number, checkedOut: Number, overflow: Number, waiting: Number }, 'dbPool present')
  }
  const byUrl = (u: string): Record<string, unknown> | undefined => {
    // Fastify logs the url on the "incoming request" line; match by reqId.
    const incoming = logs.find((l) => l.msg === 'incoming request' && (l.req as { url?: string }).url === u)
    return lines.find((l) => l.reqId === incoming?.reqId)
  }
  t.notOk('dbSession' in (byUrl('/plain') ?? {}), 'no dbSession when the db was not used')
  t.notOk('dbSession' in (byUrl('/missing') ?? {}), 'no dbSession on a 404 that did not use the db')
  t.match(byUrl('/db')?.dbSession, { queries: 2, waitMs: Number, heldMs: Number })
  t.match(byUrl('/db-throws')?.dbSession, { queries: 1 })
  t.equal((byUrl('/db')?.dbPool as { checkedOut: number }).checkedOut, 0, 'the connection was back before the line was logged')
  t.same(counts, { checkouts: 2, checkins: 2 })
  await assertSettled(t, app, db)
})

t.test('dbSession says how each request\'s transactions ended: commits and rollbacks', async (t) => {
  const db = await admin(t)
  const { app, logs } = await buildApp(t, {
    setup (app) {
      app.post('/uow-ok', { config: { db: { transaction: true } } }, async (request) => {
        await request.db.query('SELECT 1')
        return { ok: true }
      })
      // A failed unit of work: its transaction is rolled back when the session closes.
      app.post('/uow-fails', { config: { db: { transaction: true } } }, async (request) => {
        await request.db.query('SELECT 1')
        throw new Error('nope')
      })
      app.post('/two', async (request) => {
        await request.db.transaction(async (s) => { await s.query('SELECT 1') })
        await request.db.transaction(async (s) => { await s.query('SELECT 2'); throw new Error('undo') }).catch(() => undefined)
        return { ok: true }
      })
      app.get('/autocommit', async (request) => {
        await request.db.query('SELECT 1')
        return { ok: true }
      })
    }
  })
  const urls = ['/uow-ok', '/uow-fails', '/two', '/autocommit']
  const codes = []
  for (const url of urls) codes.push((await app.inject({ method: url === '/autocommit' ? 'GET' : 'POST', url })).statusCode)
  t.same(codes, [200, 500, 200, 200])
  const lines = completedLines(logs)
  const sessionOf = (u: string): unknown => {
    const incoming = logs.find((l) => l.msg === 'incoming request' && (l.req as { url?: string }).url === u)
    return lines.find((l) => l.reqId === incoming?.reqId)?.dbSession
  }
  t.match(sessionOf('/uow-ok'), { commits: 1, rollbacks: 0 }, 'a unit of work that succeeded: committed')
  t.match(sessionOf('/uow-fails'), { commits: 0, rollbacks: 1 }, 'a unit of work whose handler threw: rolled back')
  t.match(sessionOf('/two'), { commits: 1, rollbacks: 1 }, 'one transaction(fn) committed, one thrown and rolled back')
  t.match(sessionOf('/autocommit'), { commits: 0, rollbacks: 0 }, 'autocommit statements: no transaction either way')
  for (const u of urls) t.notOk('inTransaction' in ((sessionOf(u) ?? {}) as object), `no always-false inTransaction on ${u}`)
  await assertSettled(t, app, db)
})

t.test('the gauges by default, the whole snapshot with logPoolStats: \'full\'', async (t) => {
  for (const mode of [undefined, 'full'] as const) {
    const { app, logs } = await buildApp(t, {
      plugin: mode === undefined ? {} : { logPoolStats: mode },
      setup (app) {
        app.get('/db', async (request) => {
          await request.db.query('SELECT 1')
          return { ok: true }
        })
      }
    })
    await app.inject('/db')
    const pool = completedLines(logs)[0].dbPool as Record<string, unknown>
    t.same(Object.keys(pool).slice(0, 5), ['size', 'checkedIn', 'checkedOut', 'overflow', 'waiting'])
    if (mode === 'full') t.match(pool, { checkouts: 1, connects: 1, timeouts: 0 }, 'full: the counters too')
    else t.same(Object.keys(pool).length, 5, 'default: the five gauges only')
  }
})

t.test('logPoolStats: false leaves the request completed line alone', async (t) => {
  const db = await admin(t)
  const { app, logs } = await buildApp(t, {
    plugin: { logPoolStats: false },
    setup (app) {
      app.get('/db', async (request) => {
        await request.db.query('SELECT 1')
        return { ok: true }
      })
    }
  })
  t.equal((await app.inject('/db')).statusCode, 200)
  const line = completedLines(logs)[0]
  t.ok(line !== undefined)
  t.notOk('dbPool' in line)
  t.notOk('dbSession' in line)
  await assertSettled(t, app, db)
})

t.test('logger: false: everything still works', async (t) => {
  const db = await admin(t)
  const { app } = await buildApp(t, {
    logLevel: false,
    setup (app) {
      app.get('/db', async (request) => {
        const [rows] = await request.db.query<RowDataPacket[]>('SELECT 5 AS v')
        return { v: rows[0].v }
      })
      app.post('/tx', { config: { db: { transaction: true } } }, async (request) => {
        await request.db.query('SELECT 1')
        return { inTransaction: request.db.inTransaction }
      })
      app.get('/bad', async (request) => {
        await request.db.query('SELEC 1')
      })
    }
  })
  const counts = countCheckins(app)
  const res = await app.inject('/db')
  t.equal(res.statusCode, 200)
  t.same(res.json(), { v: 5 })
  const tx = await app.inject({ method: 'POST', url: '/tx' })
  t.same(tx.json(), { inTransaction: true })
  t.equal((await app.inject('/bad')).statusCode, 500)
  t.equal((await app.inject('/missing')).statusCode, 404)
  t.same(counts, { checkouts: 3, checkins: 3 })
  await assertSettled(t, app, db)
})

t.test('credentials never reach a log line or a response', async (t) => {
  const db = await admin(t)
  await db.query(`CREATE USER IF NOT EXISTS '${USER}'@'%' IDENTIFIED BY '${PASSWORD}'`)
  await db.query(`CREATE USER IF NOT EXISTS '${USER}'@'localhost' IDENTIFIED BY '${PASSWORD}'`)
  await db.query(`GRANT ALL ON test.* TO '${USER}'@'%'`)
  await db.query(`GRANT ALL ON test.* TO '${USER}'@'localhost'`)
  await db.query(`GRANT PROCESS ON *.* TO '${USER}'@'%'`)
  await db.query(`GRANT PROCESS ON *.* TO '${USER}'@'localhost'`)

  t.test('right password: every kind of log line is free of it', async (t) => {
    const { app, rawLogs } = await buildApp(t, {
      logLevel: 'debug',
      plugin: { connection: await urlFor(USER, PASSWORD), poolSize: 1, maxOverflow: 0, poolTimeout: 100, leakDetectionThreshold: 50 },
      setup (app) {
        app.get('/user', async (request) => {
          const [rows] = await request.db.query<RowDataPacket[]>('SELECT CURRENT_USER() AS u')
          return { user: rows[0].u }
        })
        app.get('/hold', async (request) => {
          await request.db.query('SELECT SLEEP(0.3)')
          return { ok: true }
        })
        app.get('/bad', async (request) => { await request.db.query('SELEC 1') })
      }
    })
    const counts = countCheckins(app)
    const res = await app.inject('/user')
    t.match(res.json().user, new RegExp(`^${USER}@`), 'connected as the test user')
    const hold = app.inject('/hold')
    await until(() => app.db.stats().checkedOut === 1, 2000)
    const timedOut = await app.inject('/user')
    t.equal(timedOut.statusCode, 503, 'pool timeout (saturation + timeout warnings logged)')
    t.equal((await hold).statusCode, 200, 'held past leakDetectionThreshold (leak warning logged)')
    const bad = await app.inject('/bad')
    t.equal(bad.statusCode, 500)
    for (const body of [res.body, timedOut.body, bad.body]) t.notMatch(body, PASSWORD)
    t.ok(rawLogs.length > 5, `${rawLogs.length} log lines written`)
    t.ok(rawLogs.some((l) => /leak/i.test(l)), 'a leak warning is among them')
    for (const line of rawLogs) {
      t.notOk(line.includes(PASSWORD), 'no password in the line')
      t.notOk(line.includes(encodeURIComponent(PASSWORD)), 'no encoded password in the line')
    }
    t.same(counts, { checkouts: 3, checkins: 3 })
    await assertSettled(t, app, db)
  })

  t.test('wrong password: 503, and the password is in no log line or response', async (t) => {
    const wrong = 'WrongPw!9x'
    const { app, rawLogs, logs } = await buildApp(t, {
      logLevel: 'debug',
      plugin: { connection: await urlFor(USER, wrong) },
      setup (app) {
        app.get('/user', async (request) => {
          await request.db.query('SELECT 1')
          return { ok: true }
        })
      }
    })
    const res = await app.inject('/user')
    t.equal(res.statusCode, 503)
    t.equal(res.json().code, 'FST_DB_UNAVAILABLE')
    t.match(res.json().message, /ER_ACCESS_DENIED_ERROR/)
    t.notMatch(res.body, wrong)
    t.ok(logs.some((l) => (l.err as { code?: string } | undefined)?.code === 'FST_DB_UNAVAILABLE'), 'the failure is logged')
    for (const line of rawLogs) {
      t.notOk(line.includes(wrong), 'no password in the line')
      t.notOk(line.includes(encodeURIComponent(wrong)), 'no encoded password in the line')
    }
    t.equal(app.db.stats().checkedOut, 0)
    await assertSettled(t, app, db)
  })
})
