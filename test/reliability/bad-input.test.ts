/**
 * Scenario 9 — bad input: every plugin option fed a wrong type, a value out of range or an unknown
 * key fails at register time with an error that names the option; malformed URLs, a wrong
 * password and an unknown database give clear errors (503 over HTTP for the latter two), and the
 * password never appears in any log line, error message or response.
 */
import t from 'tap'
import { Writable } from 'node:stream'
import Fastify, { type FastifyInstance } from 'fastify'
import sensible from '@fastify/sensible'
import { dbSession } from '../../lib/plugin/plugin'
import { QueuePool } from '../../lib/pool'
import { databaseUrl } from '../helpers/db'
import { createDbUser, dropDbUser, keepAliveAgent, recordResult, send } from '../helpers/http-load'
import { admin } from '../helpers/pool'

const USER = 'fdbs_rel_bad'
const PASSWORD = 'Sup3r-Secret-pw-91x'
const WRONG = 'Wr0ng-Secret-pw-47q'

const BAD_OPTIONS: Array<[string, Record<string, unknown>]> = [
  ['poolSize', { poolSize: -1 }],
  ['poolSize', { poolSize: '5' }],
  ['poolSize', { poolSize: 1.5 }],
  ['maxOverflow', { maxOverflow: -2 }],
  ['maxOverflow', { maxOverflow: null }],
  ['poolTimeout', { poolTimeout: -1 }],
  ['poolTimeout', { poolTimeout: '30s' }],
  ['poolTimeout', { poolTimeout: NaN }],
  ['poolRecycle', { poolRecycle: -5 }],
  ['poolRecycle', { poolRecycle: Infinity }],
  ['poolPrePing', { poolPrePing: 'yes' }],
  ['poolResetOnReturn', { poolResetOnReturn: 'sometimes' }],
  ['poolResetOnReturn', { poolResetOnReturn: true }],
  ['poolUseLifo', { poolUseLifo: 1 }],
  ['poolClass', { poolClass: 'fifo' }],
  ['poolConnectTimeout', { poolConnectTimeout: 0 }],
  ['poolPingTimeout', { poolPingTimeout: -100 }],
  ['poolResetTimeout', { poolResetTimeout: 'fast' }],
  ['poolPrePingBypass', { poolPrePingBypass: -1 }],
  ['poolCloseTimeout', { poolCloseTimeout: {} }],
  ['leakDetectionThreshold', { leakDetectionThreshold: -1 }],
  ['logPoolStats', { logPoolStats: 'no' }],
  ['pool_size', { pool_size: 5 }],
  ['maxoverflow', { maxoverflow: 5 }],
  ['frobnicate', { frobnicate: true }],
  ['connection', { connection: 42 }],
  ['connection', { connection: [] }],
  ['connection[1]', { connection: ['mysql://root@127.0.0.1/test', 'not a url'] }],
  ['poolRecycle', { poolRecycle: 'sometimes' }],
  ['replicas', { replicas: 'mysql://root@127.0.0.1/test' }],
  ['replicas[0]', { replicas: [42] }],
  ['replicas[0].poolSize', { replicas: [{ connection: 'mysql://root@127.0.0.1/test', poolSize: -1 }] }],
  ['replicas[0].frobnicate', { replicas: [{ connection: 'mysql://root@127.0.0.1/test', frobnicate: 1 }] }],
  ['replicas[1].connection', { replicas: ['mysql://root@127.0.0.1/test', { connection: 'nope' }] }],
  ['replicaMaxLag', { replicaMaxLag: -1 }],
  ['replicaCheckInterval', { replicaCheckInterval: 0 }],
  ['replicaCheckTimeout', { replicaCheckTimeout: 'soon' }],
  ['causalReads', { causalReads: 'yes' }],
  ['causalReadsTimeout', { causalReadsTimeout: NaN }],
  ['nodeBackoff', { nodeBackoff: -1 }],
  ['connection.connectionLimit', { connection: { host: '127.0.0.1', connectionLimit: 10 } }],
  ['connection.poolSize', { connection: { host: '127.0.0.1', poolSize: 10 } }],
  ['pool', { pool: {} }]
]

async function register (options: Record<string, unknown>, logs?: string[]): Promise<FastifyInstance> {
  const stream = new Writable({ write (chunk, _enc, cb) { logs?.push(chunk.toString()); cb() } })
  const app = Fastify({ logger: logs === undefined ? false : { level: 'trace', stream } })
  await app.register(sensible)
  await app.register(dbSession, options as never)
  return app as unknown as FastifyInstance
}

t.test('every bad plugin option fails at register time, naming the option', async (t) => {
  let clear = 0
  for (const [name, opts] of BAD_OPTIONS) {
    const options = 'connection' in opts ? opts : { connection: 'mysql://root@127.0.0.1:3306/test', ...opts }
    const err = await register(options).then((app) => app.close().then(() => null), (e: unknown) => e as Error & { code?: string })
    t.ok(err !== null, `${JSON.stringify(opts, (_k, v) => Number.isNaN(v) ? 'NaN' : v)} is rejected`)
    if (err === null) continue
    t.equal(err.code, 'FST_DB_INVALID_OPTION', `${name}: coded FST_DB_INVALID_OPTION`)
    t.match(err.message, name, `${name}: the message names the option: ${err.message}`)
    if (err.code === 'FST_DB_INVALID_OPTION' && err.message.includes(name)) clear++
  }
  // Both connection and pool.
  const pool = new QueuePool(() => { throw new Error('unused') })
  const both = await register({ connection: 'mysql://root@127.0.0.1/test', pool }).then(() => null, (e: Error) => e)
  t.match(both?.message, /either connection or pool/)
  await pool.close()
  recordResult('bad-input', { case: 'bad plugin options', requests: BAD_OPTIONS.length + 1, failures: BAD_OPTIONS.length - clear, clearErrors: clear, leaks: 0 })
})

t.test('malformed URLs: clear errors, password masked', async (t) => {
  const urls = [
    'not a url',
    `mysql://user:${PASSWORD}@/test`,
    `http://user:${PASSWORD}@127.0.0.1/test`,
    `mysql://user:${PASSWORD}@127.0.0.1:notaport/test`,
    `mysql://user:${PASSWORD}@exa mple.com/test`
  ]
  let leaked = 0
  for (const url of urls) {
    const err = await register({ connection: url }).then(() => null, (e: Error & { code?: string }) => e)
    t.ok(err !== null, `${url.replace(PASSWORD, '***')} is rejected at register time`)
    if (err === null) continue
    t.equal(err.code, 'FST_DB_INVALID_OPTION')
    t.match(err.message, /connection/, `names the option: ${err.message}`)
    const text = err.message + String(err.stack) + JSON.stringify(err)
    if (text.includes(PASSWORD)) leaked++
    t.notOk(text.includes(PASSWORD), 'the password is not in the error')
  }
  recordResult('bad-input', { case: 'malformed URLs', requests: urls.length, failures: 0, passwordLeaks: leaked, leaks: leaked })
})

t.test('wrong password and unknown database: 503, no password anywhere', async (t) => {
  const a = await admin(t)
  const good = await createDbUser(a, await databaseUrl(), USER, PASSWORD)
  t.teardown(() => dropDbUser(a, USER))
  const wrongPassword = good.replace(PASSWORD, WRONG)
  const unknownDb = good.replace(/\/test$/, '/fdbs_no_such_db')
  let leaked = 0
  let requests = 0
  for (const [what, url, code] of [['wrong password', wrongPassword, 'ER_ACCESS_DENIED_ERROR'], ['unknown database', unknownDb, 'ER_DBACCESS_DENIED_ERROR|ER_BAD_DB_ERROR']] as const) {
    const logs: string[] = []
    const app = await register({ connection: url, poolTimeout: 2000 }, logs)
    const errors: string[] = []
    app.setErrorHandler((err: Error, _req, reply) => {
      errors.push(String(err.message) + String(err.stack) + JSON.stringify(err) + String((err as { cause?: unknown }).cause))
      return reply.send(err)
    })
    app.get('/q', async (request) => {
      await request.db.query('SELECT 1')
      return { ok: true }
    })
    const base = await app.listen({ port: 0, host: '127.0.0.1' })
    const agent = keepAliveAgent(1)
    const responses = []
    for (let i = 0; i < 3; i++) responses.push(await send(base, agent, { path: '/q' }))
    requests += responses.length
    agent.destroy()
    await app.close()
    for (const r of responses) {
      t.equal(r.status, 503, `${what}: 503`)
      t.match(JSON.parse(r.body), { code: 'FST_DB_UNAVAILABLE', message: new RegExp(code) }, `${what}: a clear message: ${r.body}`)
      t.equal(r.headers['retry-after'], '1')
    }
    const everything = [...logs, ...errors, ...responses.map((r) => r.body + JSON.stringify(r.headers))].join('\n')
    t.ok(logs.length > 0, `${what}: log lines were captured (${logs.length})`)
    for (const secret of [PASSWORD, WRONG]) {
      const hits = everything.split(secret).length - 1
      leaked += hits
      t.equal(hits, 0, `${what}: the password appears nowhere in ${logs.length} log lines, ${errors.length} errors and ${responses.length} responses`)
    }
  }
  recordResult('bad-input', { case: 'wrong password / unknown database over HTTP', requests, failures: 0, passwordLeaks: leaked, leaks: leaked })
})
