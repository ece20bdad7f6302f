/**
 * Property tests for option validation and URL parsing: whatever a user passes, the result is a
 * working configuration or an InvalidOptionError (FST_DB_INVALID_OPTION) that names the option,
 * never another exception, never a hang (over a second), never a password in the message.
 */
import t from 'tap'
import fc from 'fast-check'
import { InvalidOptionError } from '../../lib/errors'
import { resolveConnection, resolvePluginOptions, parseConnectionUrl } from '../../lib/options'
import { defaultPoolOptions, RESET_MODES, resolvePoolOptions, type PoolOptions } from '../../lib/pool/options'
import { QueuePool } from '../../lib/pool/queue-pool'

const RUNS = Number(process.env.PROPERTY_RUNS ?? 1000)
const POOL_NAMES = Object.keys(defaultPoolOptions)
const PLUGIN_NAMES = ['name', 'connection', 'pool', 'poolClass', 'logPoolStats', 'requestContext', 'poolSize', 'maxOverflow',
  'poolTimeout', 'poolRecycle', 'poolPrePing', 'poolResetOnReturn', 'poolUseLifo', 'poolConnectTimeout', 'poolPingTimeout',
  'poolResetTimeout', 'poolPrePingBypass', 'poolCloseTimeout', 'leakDetectionThreshold']
// Misspellings users write (SQLAlchemy's snake_case, other casing) and names that are dangerous as keys.
const NEAR_NAMES = ['pool_size', 'max_overflow', 'PoolSize', 'timeOut', 'pool_recycle', 'foo', 'constructor', 'toString', 'hasOwnProperty', 'valueOf']

/** Values of every shape, biased to the edges of the accepted ranges. */
const value: fc.Arbitrary<unknown> = fc.oneof(
  fc.constantFrom(undefined, null, 0, -0, -1, -2, 1, 0.5, 0.999, 1.5, 2 ** 31, Number.MAX_SAFE_INTEGER + 2, Infinity, -Infinity, NaN, '', '5', true, false),
  fc.integer({ min: -3, max: 100_000 }),
  fc.double(),
  fc.constantFrom(...RESET_MODES, 'bogus', 'ROLLBACK', 'queue', 'null', 'static', 'assertion'),
  fc.string(),
  fc.anything()
)

const optionsWith = (names: readonly string[]): fc.Arbitrary<Record<string, unknown>> =>
  fc.dictionary(fc.oneof(fc.constantFrom(...names), fc.constantFrom(...NEAR_NAMES), fc.string()), value, { maxKeys: 6 })
    .chain((base) => fc.dictionary(fc.constantFrom(...names), value, { maxKeys: 4 }).map((known) => ({ ...base, ...known })))

/** Times the call: a synchronous validator taking a second has hung (e.g. on a pathological regex). */
function attempt<T> (fn: () => T): { ok: true, value: T } | { ok: false, err: unknown } {
  const started = performance.now()
  let result: { ok: true, value: T } | { ok: false, err: unknown }
  try {
    result = { ok: true, value: fn() }
  } catch (err) {
    result = { ok: false, err }
  }
  const ms = performance.now() - started
  if (ms > 1000) throw new Error(`validation took ${ms.toFixed(0)} ms`)
  return result
}

function assertNamedError (err: unknown, given: object | unknown): void {
  if (!(err instanceof InvalidOptionError)) throw new Error(`expected InvalidOptionError, got ${String(err)}`)
  if (err.code !== 'FST_DB_INVALID_OPTION') throw new Error(`code ${err.code}`)
  if (!err.message.includes(err.option.replace(/^connection\..*/, 'connection'))) throw new Error(`message does not name ${err.option}: ${err.message}`)
  const keys = given !== null && typeof given === 'object' ? Object.keys(given) : []
  // A pool whose value is undefined was not given: `{ pool: undefined }` still lacks a connection.
  const hasPool = keys.includes('pool') && (given as { pool?: unknown }).pool !== undefined
  // `connection.user`, `connection[1]`, `replicas[0].poolSize`: the option the user gave is the first part.
  const top = /^(connection|replicas)[.[]/.test(err.option) ? err.option.split(/[.[]/)[0] : err.option
  // `connection` is the one required option: it may be blamed for being missing.
  const missingConnection = top === 'connection' && !hasPool
  if (top !== 'options' && !keys.includes(top) && !missingConnection) throw new Error(`blames ${err.option}, not an option given (${keys.join(', ')})`)
}

t.test('pool options: a working pool or an error naming the option', async (t) => {
  await fc.assert(fc.asyncProperty(fc.oneof(optionsWith(POOL_NAMES), value), async (options) => {
    const r = attempt(() => resolvePoolOptions(options as PoolOptions))
    if (!r.ok) return assertNamedError(r.err, options)
    const o = r.value
    if (!Number.isInteger(o.poolSize) || o.poolSize < 0) throw new Error(`poolSize ${o.poolSize}`)
    if (!Number.isInteger(o.maxOverflow) || o.maxOverflow < -1) throw new Error(`maxOverflow ${o.maxOverflow}`)
    for (const k of ['timeout', 'connectTimeout', 'pingTimeout', 'resetTimeout', 'closeTimeout', 'prePingBypass', 'leakDetectionThreshold'] as const) {
      if (typeof o[k] !== 'number' || Number.isNaN(o[k]) || o[k] < 0) throw new Error(`${k} ${o[k]}`)
    }
    if (o.recycle !== -1 && !(Number.isFinite(o.recycle) && o.recycle >= 0)) throw new Error(`recycle ${o.recycle}`)
    if (!RESET_MODES.includes(o.resetOnReturn)) throw new Error(`resetOnReturn ${o.resetOnReturn}`)
    // It works: a pool builds with it (the creator is never called) and closes.
    const pool = new QueuePool(() => { throw new Error('not called') }, options as PoolOptions)
    if (pool.size() !== o.poolSize || pool.timeout() !== o.timeout) throw new Error('pool does not use the options')
    await pool.close()
  }), { numRuns: RUNS })
  t.pass(`${RUNS} inputs`)
})

/** A URL with a password a user might really have: any characters, percent-encoded or raw. */
const password = fc.tuple(fc.string({ minLength: 1, maxLength: 12 }), fc.boolean())
  .map(([s, encode]) => ({ raw: `Pw7${s}`, inUrl: encode ? encodeURIComponent(`Pw7${s}`) : `Pw7${s}` }))
const connectionUrl = fc.record({
  scheme: fc.constantFrom('mysql', 'mariadb', 'postgres', 'http', 'MYSQL', ''),
  user: fc.constantFrom('root', 'app', 'u$er', ''),
  password,
  host: fc.constantFrom('127.0.0.1', 'db.example.com', '[::1]', '', 'bad host', 'host:notaport'),
  port: fc.constantFrom('', ':3306', ':0', ':99999', ':x'),
  path: fc.constantFrom('/test', '', '/', '/db?ssl=true', '/db#frag', '/a/b')
}).map((u) => ({ url: `${u.scheme}://${u.user}:${u.password.inUrl}@${u.host}${u.port}${u.path}`, password: u.password.raw, inUrl: u.password.inUrl }))

function assertNoPassword (err: unknown, pw: { password: string, inUrl: string }): void {
  const text = String((err as Error).message) + String((err as { option?: unknown }).option)
  for (const secret of [pw.password, pw.inUrl]) {
    if (text.includes(secret)) throw new Error(`password ${JSON.stringify(secret)} in the message: ${text}`)
  }
}

t.test('connection URLs: parsed, or an error naming connection without the password', async (t) => {
  fc.assert(fc.property(connectionUrl, (u) => {
    const r = attempt(() => parseConnectionUrl(u.url))
    if (r.ok) {
      const parsed = new URL(r.value)
      if (parsed.protocol !== 'mysql:' || parsed.hostname === '') throw new Error(`accepted ${u.url}`)
      return
    }
    assertNamedError(r.err, { connection: u.url })
    assertNoPassword(r.err, u)
  }), { numRuns: RUNS })
  // The same through the plugin's options, as a string and as mysql2's `uri`.
  fc.assert(fc.property(connectionUrl, fc.boolean(), (u, asUri) => {
    const connection = asUri ? { uri: u.url } : u.url
    const r = attempt(() => resolveConnection(connection))
    if (r.ok) return
    assertNamedError(r.err, { connection })
    assertNoPassword(r.err, u)
  }), { numRuns: RUNS })
  t.pass(`${RUNS} URLs`)
})

t.test('plugin options: resolved, or an error naming the option (under the plugin\'s name)', async (t) => {
  const connection = fc.oneof(connectionUrl.map((u) => u.url), fc.constant('mysql://root@127.0.0.1:3306/test'), fc.dictionary(fc.string(), value, { maxKeys: 3 }), value)
  const pluginOptions = fc.tuple(optionsWith(PLUGIN_NAMES), connection, fc.boolean())
    .map(([o, c, withConnection]) => withConnection ? { ...o, connection: c } : o)
  fc.assert(fc.property(fc.oneof(pluginOptions, value), (options) => {
    const r = attempt(() => resolvePluginOptions(options as never))
    if (!r.ok) return assertNamedError(r.err, options)
    if (r.value.pool === undefined && (r.value.connection === null || typeof r.value.connection !== 'object')) throw new Error('no connection options')
  }), { numRuns: RUNS })
  t.pass(`${RUNS} option objects`)
})
