/**
 * Options at register time: unknown names, wrong types and mysql2 pool options are rejected with
 * a message naming the option; the @fastify/sensible dependency is enforced; plugin options never
 * reach mysql2.
 */
import t, { type Test } from 'tap'
import Fastify from 'fastify'
import sensible from '@fastify/sensible'
import mysql from 'mysql2/promise'
import dbSession, { InvalidOptionError } from '../../lib'
import { databaseUrl } from '../helpers/db'
import { admin } from '../helpers/pool'
import { assertSettled, countCheckins } from './_helpers'

async function registerWith (t: Test, options: Record<string, unknown>, withSensible = true): Promise<unknown> {
  const app = Fastify({ logger: false })
  t.teardown(() => app.close().catch(() => undefined))
  if (withSensible) await app.register(sensible)
  // The options are deliberately wrong: the cast is what a JavaScript caller would pass.
  app.register(dbSession, options as never)
  return app.ready().then(() => null, (err: unknown) => err)
}

t.test('an unknown option is rejected with a message naming it', async (t) => {
  const url = await databaseUrl()
  const err = await registerWith(t, { connection: url, poolSzie: 5 })
  t.ok(err instanceof InvalidOptionError)
  t.match(err, { code: 'FST_DB_INVALID_OPTION', option: 'poolSzie', message: /Unknown fastify-db-session option poolSzie/ })
  const near = await registerWith(t, { connection: url, pool_size: 5 })
  t.match(near, { message: /pool_size.*Did you mean poolSize\?/ }, 'suggests the accepted spelling')
  const sqla = await registerWith(t, { connection: url, poolTimeoutMs: 5 })
  t.match(sqla, { message: /poolTimeoutMs/ })
})

t.test('wrong types are rejected with a message naming the option', async (t) => {
  const url = await databaseUrl()
  const cases: Array<[string, unknown, RegExp]> = [
    ['poolSize', '5', /Invalid option poolSize: expected an integer >= 0, got "5"/],
    ['poolSize', 1.5, /Invalid option poolSize/],
    ['maxOverflow', -2, /Invalid option maxOverflow/],
    ['poolTimeout', -1, /Invalid option poolTimeout/],
    ['poolTimeout', 'soon', /Invalid option poolTimeout/],
    ['poolRecycle', -5, /Invalid option poolRecycle/],
    ['poolPrePing', 'yes', /Invalid option poolPrePing: expected true or false/],
    ['poolResetOnReturn', 'truncate', /Invalid option poolResetOnReturn: expected one of 'rollback', 'reset', 'commit', 'none'/],
    ['poolUseLifo', 1, /Invalid option poolUseLifo/],
    ['poolClass', 'lifo', /Invalid option poolClass/],
    ['leakDetectionThreshold', -1, /Invalid option leakDetectionThreshold/],
    ['logPoolStats', 'no', /Invalid option logPoolStats/]
  ]
  for (const [name, value, message] of cases) {
    const err = await registerWith(t, { connection: url, [name]: value })
    t.match(err, { code: 'FST_DB_INVALID_OPTION', option: name, message }, `${name}: ${JSON.stringify(value)}`)
  }
  t.match(await registerWith(t, { connection: 42 }), { code: 'FST_DB_INVALID_OPTION', message: /Invalid option connection/ })
  t.match(await registerWith(t, {}), { code: 'FST_DB_INVALID_OPTION', option: 'connection', message: /connection.*got undefined/ })
  t.match(await registerWith(t, { connection: 'postgres://u@h/db' }), { message: /unsupported protocol/ })
  const pw = await registerWith(t, { connection: 'http://user:Hidden123@host/db' }) as Error
  t.notMatch(pw.message, /Hidden123/, 'an invalid URL is reported with the password masked')
})

t.test('mysql2 pool options inside connection are rejected', async (t) => {
  const err = await registerWith(t, { connection: { host: '127.0.0.1', user: 'root', database: 'test', connectionLimit: 10 } })
  t.match(err, { code: 'FST_DB_INVALID_OPTION', option: 'connection.connectionLimit', message: /connection\.connectionLimit.*mysql2's own pool.*poolSize\/maxOverflow/ })
  for (const key of ['queueLimit', 'waitForConnections', 'maxIdle', 'idleTimeout']) {
    const e = await registerWith(t, { connection: { host: '127.0.0.1', [key]: 1 } })
    t.match(e, { option: `connection.${key}` }, `${key} rejected`)
  }
  const nested = await registerWith(t, { connection: { host: '127.0.0.1', poolSize: 3 } })
  t.match(nested, { option: 'connection.poolSize', message: /plugin option/ }, 'a plugin option inside connection')
})

t.test('without @fastify/sensible registered: a Fastify dependency error', async (t) => {
  const err = await registerWith(t, { connection: await databaseUrl() }, false)
  t.match(err, { code: 'FST_ERR_PLUGIN_DEPENDENCY_NOT_REGISTERED', message: "The dependency '@fastify/sensible' of plugin 'fastify-db-session' is not registered" })
})

t.test('plugin options never reach mysql2 (no "Ignoring invalid configuration option")', async (t) => {
  const db = await admin(t)
  const url = await databaseUrl()
  const parsed = new URL(url)
  const errors: unknown[][] = []
  const warnings: unknown[][] = []
  const { error, warn } = console
  console.error = (...args: unknown[]) => { errors.push(args) }
  console.warn = (...args: unknown[]) => { warnings.push(args) }
  t.teardown(() => { console.error = error; console.warn = warn })

  const every = {
    poolSize: 2,
    maxOverflow: 1,
    poolTimeout: 1000,
    poolRecycle: 60_000,
    poolPrePing: true,
    poolResetOnReturn: 'rollback' as const,
    poolUseLifo: true,
    poolConnectTimeout: 2000,
    poolPingTimeout: 1000,
    poolResetTimeout: 1000,
    poolPrePingBypass: 0,
    poolCloseTimeout: 1000,
    leakDetectionThreshold: 10_000,
    logPoolStats: true,
    poolClass: 'queue' as const
  }
  const connections = [
    url,
    {
      host: parsed.hostname,
      port: Number(parsed.port || 3306),
      user: decodeURIComponent(parsed.username),
      password: decodeURIComponent(parsed.password),
      database: parsed.pathname.slice(1)
    }
  ]
  for (const connection of connections) {
    const app = Fastify({ logger: false })
    t.teardown(() => app.close())
    await app.register(sensible)
    await app.register(dbSession, { connection, ...every })
    app.get('/q', async (request) => {
      await request.db.query('SELECT 1')
      return { ok: true }
    })
    const counts = countCheckins(app)
    t.equal((await app.inject('/q')).statusCode, 200)
    t.equal(app.db.stats().size, 2, 'poolSize reached the pool')
    t.same(counts, { checkouts: 1, checkins: 1 })
    await assertSettled(t, app, db)
    await app.close()
  }
  const printed = [...errors, ...warnings].map((args) => args.map(String).join(' '))
  t.same(printed.filter((s) => /Ignoring invalid configuration option/.test(s)), [], 'mysql2 saw no unknown option')
  t.same(errors, [], 'nothing printed on console.error')

  // Control: the spy does catch mysql2's warning when a plugin option is given to mysql2 directly.
  const raw = await mysql.createConnection({ uri: url, poolSize: 2 } as mysql.ConnectionOptions)
  await raw.end()
  t.ok(errors.some((args) => /Ignoring invalid configuration option.*poolSize/.test(args.map(String).join(' '))), 'the spy sees mysql2\'s warning')
})
