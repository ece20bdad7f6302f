/**
 * `connection` as a function (rotating credentials): called for every new connection, a password
 * changed on the server between connects is picked up, and its failures are DatabaseUnavailableError
 * causes. TLS in URLs: supported forms become mysql2's `ssl` option, others are refused.
 */
import t from 'tap'
import type { RowDataPacket } from 'mysql2'
import { resolveConnection, resolvePluginOptions } from '../../lib/options'
import { withUrlTls } from '../../lib/connection-tls'
import { databaseUrl } from '../helpers/db'
import { admin } from '../helpers/pool'
import { buildApp } from './_helpers'

const USER = 'fdbs_rotating'

t.test('a credentials function that changes the password between connects', async (t) => {
  const db = await admin(t)
  await db.query(`DROP USER IF EXISTS '${USER}'@'%'`)
  await db.query(`CREATE USER '${USER}'@'%' IDENTIFIED BY 'first-secret'`)
  await db.query(`GRANT SELECT ON *.* TO '${USER}'@'%'`)
  t.teardown(() => db.query(`DROP USER IF EXISTS '${USER}'@'%'`))
  const base = new URL(await databaseUrl())
  let password = 'first-secret'
  let calls = 0
  let fail: Error | undefined
  const { app, rawLogs } = await buildApp(t, {
    plugin: {
      poolSize: 0, // unbounded: one test below holds two connections
      poolResetOnReturn: 'rollback',
      async connection () {
        calls++
        await new Promise((resolve) => setImmediate(resolve)) // async, as a token service would be
        if (fail !== undefined) throw fail
        return { host: base.hostname, port: Number(base.port), user: USER, password, database: base.pathname.slice(1) }
      }
    },
    setup (app) {
      app.get('/who', async (request) => {
        const [rows] = await request.db.query<RowDataPacket[]>('SELECT CURRENT_USER() AS who, CONNECTION_ID() AS id')
        return { who: String(rows[0].who), id: Number(rows[0].id) }
      })
      app.get('/two', async () => {
        // Forces a second connection while the first is held.
        const a = app.db.session()
        const b = app.db.session()
        try {
          await a.query('SELECT 1')
          const [rows] = await b.query<RowDataPacket[]>('SELECT CURRENT_USER() AS who')
          return { who: String(rows[0].who) }
        } finally {
          await a.close()
          await b.close()
        }
      })
    }
  })
  const first = (await app.inject('/who')).json<{ who: string, id: number }>()
  t.match(first.who, USER)
  t.equal(calls, 1)
  // Rotate: the server accepts only the new password from now on; the pooled connection lives on.
  await db.query(`ALTER USER '${USER}'@'%' IDENTIFIED BY 'second-secret'`)
  password = 'second-secret'
  t.equal((await app.inject('/who')).json<{ id: number }>().id, first.id, 'the open connection is reused, no call')
  t.equal(calls, 1)
  const two = await app.inject('/two')
  t.equal(two.statusCode, 200, 'a new connection authenticates with the rotated password')
  t.equal(calls, 2)
  // The function failing (token service down) is a 503 with the cause kept for the log.
  app.db.pool.dispose()
  await new Promise((resolve) => setTimeout(resolve, 20))
  fail = Object.assign(new Error('token service down'), { code: 'ETOKEN' })
  const down = await app.inject('/who')
  t.equal(down.statusCode, 503)
  t.match(down.json(), { code: 'FST_DB_UNAVAILABLE', message: 'Cannot connect to the database (ETOKEN)' })
  // A function returning something that is not connection options: the same, with the reason.
  fail = undefined
  password = 'wrong-password'
  const denied = await app.inject('/who')
  t.equal(denied.statusCode, 503)
  t.match(denied.json(), { message: /ER_ACCESS_DENIED_ERROR/ })
  password = 'second-secret'
  t.equal((await app.inject('/who')).statusCode, 200, 'recovers once the function returns good credentials')
  t.notOk(rawLogs.join('').includes('second-secret'), 'no password in the logs')
})

t.test('what the function returns is validated per call', async (t) => {
  const { app } = await buildApp(t, {
    plugin: { connection: () => ({ uri: 'postgres://x@h/db' }) },
    setup (app) { app.get('/', async (request) => request.db.query('SELECT 1')) }
  })
  const res = await app.inject('/')
  t.equal(res.statusCode, 503)
  t.match(res.json(), { code: 'FST_DB_UNAVAILABLE' })
})

t.test('TLS parameters in URLs are supported or refused, never dropped', async (t) => {
  t.same(withUrlTls('mysql://u:p@h:3306/db'), { uri: 'mysql://u:p@h:3306/db' }, 'no ssl parameter: the URL as given')
  t.same(withUrlTls('mysql://u:p@h:3306/db?ssl=true'), { uri: 'mysql://u:p@h:3306/db', ssl: {} }, 'TLS with certificate verification')
  t.same(withUrlTls('mysql://u@h/db?ssl=required&charset=utf8mb4'), { uri: 'mysql://u@h/db?charset=utf8mb4', ssl: {} })
  t.same(withUrlTls('mysql://u@h/db?ssl=false'), { uri: 'mysql://u@h/db' })
  t.same(withUrlTls('mysql://u@h/db?ssl=' + encodeURIComponent('{"rejectUnauthorized":false}')), { uri: 'mysql://u@h/db', ssl: { rejectUnauthorized: false } })
  t.same(withUrlTls('mysql://u@h/db?ssl=Amazon%20RDS'), { uri: 'mysql://u@h/db', ssl: 'Amazon RDS' })
  t.throws(() => withUrlTls('mysql://u@h/db?sslmode=require'), { code: 'FST_DB_INVALID_OPTION', message: /sslmode is not understood by mysql2.*\?ssl=true/ })
  t.throws(() => withUrlTls('mysql://u@h/db?ssl-ca=/etc/ca.pem'), { message: /ssl-ca/ })
  t.throws(() => withUrlTls('mysql://u@h/db?ssl=maybe'), { message: /unsupported URL parameter ssl="maybe"/ })
  t.throws(() => withUrlTls('mysql://u@h/db?ssl={nope'), { message: /not valid JSON/ })
  t.throws(() => withUrlTls('mysql://u@h/db?ssl=[1]'), { message: /unsupported URL parameter ssl/ })
  t.match(resolveConnection('mysql://u:p@h/db?ssl=1'), { uri: 'mysql://u:p@h/db', ssl: {} })
  t.match(resolveConnection({ uri: 'mysql://u:p@h/db?ssl=1', ssl: { ca: 'x' } }), { uri: 'mysql://u:p@h/db', ssl: { ca: 'x' } }, 'an explicit ssl option wins')
  t.match(resolveConnection({ host: 'h', ssl: { ca: 'x' } }), { ssl: { ca: 'x' } }, 'ssl passes through')
  const err = t.throws(() => resolvePluginOptions({ connection: 'mysql://u:secret@h/db?sslmode=verify-full' })) as Error
  t.notOk(err.message.includes('secret'), 'no password in the message')
})

t.test('TLS is really used: ?ssl=true against a server without TLS fails rather than falling back to clear text', async (t) => {
  const url = await databaseUrl()
  const db = await admin(t)
  const [rows] = await db.query<RowDataPacket[]>("SHOW GLOBAL VARIABLES LIKE 'have_ssl'")
  const { app } = await buildApp(t, {
    plugin: { connection: url + (url.includes('?') ? '&' : '?') + 'ssl=true' },
    setup (app) {
      app.get('/cipher', async (request) => {
        const [r] = await request.db.query<RowDataPacket[]>("SHOW SESSION STATUS LIKE 'Ssl_cipher'")
        return { cipher: String(r[0].Value) }
      })
    }
  })
  const res = await app.inject('/cipher')
  if (String(rows[0]?.Value) === 'YES') {
    // A server with TLS but a self-signed certificate fails verification: also not clear text.
    t.ok(res.statusCode === 503 || res.json<{ cipher: string }>().cipher !== '', 'encrypted or refused')
  } else {
    t.equal(res.statusCode, 503, 'no TLS on the server: the connection is refused, not made in clear text')
  }
})
