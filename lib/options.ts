/**
 * The one place where options are defaulted and validated, for the pools and for the plugin.
 * Every check fails at construction/register time with a message that names the option and the
 * accepted values; unknown names are rejected (with a suggestion) instead of silently ignored.
 */
import type { ConnectionOptions } from 'mysql2'
import { InvalidOptionError } from './errors'
import type { PoolLogger } from './pool/logger'

export type ResetOnReturn = 'rollback' | 'reset' | 'commit' | 'none'
export type PoolClassName = 'queue' | 'null' | 'static' | 'assertion'

/** Options of QueuePool (and, where they apply, of the other pools). All durations in ms. */
export interface PoolOptions {
  /** Idle connections kept; 0 = unbounded (maxOverflow is then ignored). SQLAlchemy `pool_size`. */
  poolSize?: number
  /** Connections allowed beyond poolSize; -1 = unlimited. SQLAlchemy `max_overflow`. */
  maxOverflow?: number
  /** How long a checkout waits at the limit before PoolTimeoutError; Infinity = forever. */
  timeout?: number
  /** Maximum age of a connection, checked at checkout; -1 = off. SQLAlchemy `pool_recycle`. */
  recycle?: number
  /** Ping a connection at checkout (unless fresh or used within prePingBypass); reconnect once on failure. */
  prePing?: boolean
  /** What returning a connection does to it. */
  resetOnReturn?: ResetOnReturn
  /** Hand out the most recently returned idle connection first. */
  useLifo?: boolean
  /** Deadline for opening a connection. */
  connectTimeout?: number
  /** Deadline for a pre-ping. */
  pingTimeout?: number
  /** Deadline for the reset on return (ROLLBACK / COM_RESET_CONNECTION / COMMIT). */
  resetTimeout?: number
  /** A connection used this recently is not pre-pinged (HikariCP's aliveBypassWindowMs). */
  prePingBypass?: number
  /** Fraction of `recycle` randomly taken off each connection's lifetime so they don't expire together. */
  recycleJitter?: number
  /** How long close() waits for checked-out connections before closing them anyway. */
  closeTimeout?: number
  /** Log a connection held longer than this, with the stack that took it; 0 = off. */
  leakDetectionThreshold?: number
  /** KILL the server thread of a connection abandoned mid-statement (it keeps running otherwise). */
  killAbandoned?: boolean
  /** Where warnings and errors go; defaults to a pino logger at `warn`. */
  logger?: PoolLogger
  /** AssertionPool only: remember where the outstanding checkout happened. */
  storeTraceback?: boolean
}

export type ResolvedPoolOptions = Required<Omit<PoolOptions, 'logger'>> & { logger: PoolLogger | undefined }

export const defaultPoolOptions: Readonly<ResolvedPoolOptions> = Object.freeze({
  poolSize: 5,
  maxOverflow: 10,
  timeout: 30_000,
  recycle: -1,
  prePing: false,
  resetOnReturn: 'rollback',
  useLifo: false,
  connectTimeout: 10_000,
  pingTimeout: 5_000,
  resetTimeout: 5_000,
  prePingBypass: 500,
  recycleJitter: 0.025,
  closeTimeout: 10_000,
  leakDetectionThreshold: 0,
  killAbandoned: true,
  logger: undefined,
  storeTraceback: true
})

const RESET_MODES: readonly ResetOnReturn[] = ['rollback', 'reset', 'commit', 'none']
const POOL_CLASSES: readonly PoolClassName[] = ['queue', 'null', 'static', 'assertion']

function describe (value: unknown): string {
  if (typeof value === 'string') return JSON.stringify(value)
  if (typeof value === 'number' || typeof value === 'boolean' || value == null) return String(value)
  return Array.isArray(value) ? 'an array' : `a ${typeof value}`
}

function fail (option: string, expected: string, value: unknown): never {
  throw new InvalidOptionError(option, `Invalid option ${option}: expected ${expected}, got ${describe(value)}`)
}

function integer (option: string, value: unknown, min: number): number {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < min) {
    fail(option, `an integer >= ${min}`, value)
  }
  return value
}

/** A duration in ms: a finite number >= min, or Infinity where allowed. */
function duration (option: string, value: unknown, min: number, allowInfinity = false): number {
  const ok = typeof value === 'number' && !Number.isNaN(value) && value >= min && (allowInfinity || Number.isFinite(value))
  if (!ok) fail(option, `a number of milliseconds >= ${min}${allowInfinity ? ' (or Infinity)' : ''}`, value)
  return value as number
}

function boolean (option: string, value: unknown): boolean {
  if (typeof value !== 'boolean') fail(option, 'true or false', value)
  return value as boolean
}

function oneOf<T extends string> (option: string, value: unknown, accepted: readonly T[]): T {
  if (!accepted.includes(value as T)) fail(option, `one of ${accepted.map((a) => `'${a}'`).join(', ')}`, value)
  return value as T
}

function checkLogger (option: string, value: unknown): PoolLogger {
  const l = value as Partial<PoolLogger> | null
  if (l === null || typeof l !== 'object' || typeof l.warn !== 'function' || typeof l.error !== 'function' ||
    typeof l.info !== 'function' || typeof l.debug !== 'function') {
    fail(option, 'a logger with debug/info/warn/error methods (e.g. a pino logger)', value)
  }
  return value as PoolLogger
}

/** Rejects keys outside `accepted`, suggesting the accepted name that differs only in case or `_`. */
export function rejectUnknown (where: string, options: object, accepted: readonly string[]): void {
  for (const key of Object.keys(options)) {
    if (accepted.includes(key)) continue
    const norm = key.replace(/_/g, '').toLowerCase()
    const near = accepted.find((a) => a.toLowerCase() === norm)
    const hint = near === undefined ? '' : ` Did you mean ${near}?`
    throw new InvalidOptionError(key, `Unknown ${where} option ${key}.${hint} Accepted options: ${accepted.join(', ')}`)
  }
}

const POOL_OPTION_NAMES = Object.keys(defaultPoolOptions)

/** Validates pool options and merges them over the defaults. */
export function resolvePoolOptions (options: PoolOptions | undefined): ResolvedPoolOptions {
  if (options === undefined) return { ...defaultPoolOptions }
  if (options === null || typeof options !== 'object') fail('options', 'an object', options)
  rejectUnknown('pool', options, POOL_OPTION_NAMES)
  const o = { ...defaultPoolOptions, ...stripUndefined(options) }
  return {
    poolSize: integer('poolSize', o.poolSize, 0),
    maxOverflow: integer('maxOverflow', o.maxOverflow, -1),
    timeout: duration('timeout', o.timeout, 0, true),
    recycle: o.recycle === -1 ? -1 : duration('recycle', o.recycle, 0),
    prePing: boolean('prePing', o.prePing),
    resetOnReturn: oneOf('resetOnReturn', o.resetOnReturn, RESET_MODES),
    useLifo: boolean('useLifo', o.useLifo),
    connectTimeout: duration('connectTimeout', o.connectTimeout, 1, true),
    pingTimeout: duration('pingTimeout', o.pingTimeout, 1, true),
    resetTimeout: duration('resetTimeout', o.resetTimeout, 1, true),
    prePingBypass: duration('prePingBypass', o.prePingBypass, 0),
    recycleJitter: (typeof o.recycleJitter === 'number' && o.recycleJitter >= 0 && o.recycleJitter < 1)
      ? o.recycleJitter
      : fail('recycleJitter', 'a fraction >= 0 and < 1', o.recycleJitter),
    closeTimeout: duration('closeTimeout', o.closeTimeout, 0, true),
    leakDetectionThreshold: duration('leakDetectionThreshold', o.leakDetectionThreshold, 0),
    killAbandoned: boolean('killAbandoned', o.killAbandoned),
    logger: o.logger === undefined ? undefined : checkLogger('logger', o.logger),
    storeTraceback: boolean('storeTraceback', o.storeTraceback)
  }
}

function stripUndefined<T extends object> (obj: T): Partial<T> {
  const out: Partial<T> = {}
  for (const [k, v] of Object.entries(obj)) if (v !== undefined) (out as Record<string, unknown>)[k] = v
  return out
}

// ---------------------------------------------------------------------------------------------
// Plugin options: create_engine's names, mapped onto the pool's.

export interface DbSessionPluginOptions {
  /** A `mysql://user:password@host:port/database` URL, or mysql2 ConnectionOptions. */
  connection?: string | ConnectionOptions
  /** Use this pool instead of building one (SQLAlchemy's `create_engine(pool=...)`); closed with the app. */
  pool?: import('./pool/base-pool').Pool
  poolClass?: PoolClassName
  poolSize?: number
  maxOverflow?: number
  poolTimeout?: number
  poolRecycle?: number
  poolPrePing?: boolean
  poolResetOnReturn?: ResetOnReturn
  poolUseLifo?: boolean
  poolConnectTimeout?: number
  poolPingTimeout?: number
  poolResetTimeout?: number
  poolPrePingBypass?: number
  poolCloseTimeout?: number
  leakDetectionThreshold?: number
  /** Add `dbPool`/`dbSession` to Fastify's `request completed` log line. */
  logPoolStats?: boolean
}

/** Plugin option name → pool option name. */
const PLUGIN_TO_POOL: Readonly<Record<string, keyof PoolOptions>> = Object.freeze({
  poolSize: 'poolSize',
  maxOverflow: 'maxOverflow',
  poolTimeout: 'timeout',
  poolRecycle: 'recycle',
  poolPrePing: 'prePing',
  poolResetOnReturn: 'resetOnReturn',
  poolUseLifo: 'useLifo',
  poolConnectTimeout: 'connectTimeout',
  poolPingTimeout: 'pingTimeout',
  poolResetTimeout: 'resetTimeout',
  poolPrePingBypass: 'prePingBypass',
  poolCloseTimeout: 'closeTimeout',
  leakDetectionThreshold: 'leakDetectionThreshold'
})

const PLUGIN_OPTION_NAMES = ['connection', 'pool', 'poolClass', 'logPoolStats', ...Object.keys(PLUGIN_TO_POOL)]

/** mysql2 options that belong to its own pool, not to a single connection, with our name for them. */
const MYSQL2_POOL_KEYS: Readonly<Record<string, string>> = Object.freeze({
  connectionLimit: 'poolSize/maxOverflow',
  maxIdle: 'poolSize',
  idleTimeout: 'poolRecycle',
  queueLimit: 'maxOverflow',
  waitForConnections: 'poolTimeout',
  resetOnRelease: 'poolResetOnReturn',
  acquireTimeout: 'poolTimeout'
})

interface ResolvedPluginCommon {
  poolClass: PoolClassName
  poolOptions: PoolOptions
  logPoolStats: boolean
}

/** Either a pool was given, or the connection options to build one. */
export type ResolvedPluginOptions =
  | ResolvedPluginCommon & { pool: import('./pool/base-pool').Pool, connection: undefined }
  | ResolvedPluginCommon & { pool: undefined, connection: ConnectionOptions }

export function resolvePluginOptions (options: DbSessionPluginOptions): ResolvedPluginOptions {
  if (options === null || typeof options !== 'object') fail('options', 'an object', options)
  rejectUnknown('fastify-db-session', options, PLUGIN_OPTION_NAMES)
  const poolOptions: PoolOptions = {}
  for (const [name, poolName] of Object.entries(PLUGIN_TO_POOL)) {
    const value = (options as Record<string, unknown>)[name]
    if (value !== undefined) (poolOptions as Record<string, unknown>)[poolName] = value
  }
  try {
    resolvePoolOptions(poolOptions)
  } catch (err) {
    // Report the option under the name the user wrote, not the pool's.
    const e = err as InvalidOptionError
    const pluginName = Object.keys(PLUGIN_TO_POOL).find((k) => PLUGIN_TO_POOL[k] === e.option) ?? e.option
    throw new InvalidOptionError(pluginName, e.message.replace(`option ${e.option}:`, `option ${pluginName}:`))
  }
  const poolClass = options.poolClass === undefined ? 'queue' : oneOf('poolClass', options.poolClass, POOL_CLASSES)
  const logPoolStats = options.logPoolStats === undefined ? true : boolean('logPoolStats', options.logPoolStats)
  if (options.pool !== undefined) {
    if (options.connection !== undefined) {
      throw new InvalidOptionError('pool', 'Invalid options: give either connection or pool, not both')
    }
    const p = options.pool as { connect?: unknown } | null
    if (p === null || typeof p !== 'object' || typeof p.connect !== 'function') fail('pool', 'a pool instance (QueuePool, NullPool, StaticPool or AssertionPool)', options.pool)
    return { connection: undefined, pool: options.pool, poolClass, poolOptions, logPoolStats }
  }
  return { connection: resolveConnection(options.connection, poolOptions), pool: undefined, poolClass, poolOptions, logPoolStats }
}

/** Turns the `connection` option into mysql2 options, with keep-alive and connect timeout set. */
export function resolveConnection (connection: unknown, poolOptions: PoolOptions = {}): ConnectionOptions {
  const connectTimeout = poolOptions.connectTimeout ?? defaultPoolOptions.connectTimeout
  const base: ConnectionOptions = {
    // mysql2 leaves the first keep-alive probe to the OS (2 hours on Linux): far too late to notice
    // a dropped link before the server's own wait_timeout.
    enableKeepAlive: true,
    keepAliveInitialDelay: 30_000,
    connectTimeout: Number.isFinite(connectTimeout) ? connectTimeout : undefined
  }
  if (typeof connection === 'string') {
    return { ...base, uri: parseConnectionUrl(connection) }
  }
  if (connection === null || typeof connection !== 'object' || Array.isArray(connection)) {
    fail('connection', "a URL string like 'mysql://user:password@127.0.0.1:3306/database' or mysql2 connection options", connection)
  }
  for (const key of Object.keys(connection)) {
    if (key in MYSQL2_POOL_KEYS) {
      throw new InvalidOptionError(`connection.${key}`, `Invalid option connection.${key}: it belongs to mysql2's own pool; use the plugin option ${MYSQL2_POOL_KEYS[key]} instead`)
    }
    if (PLUGIN_OPTION_NAMES.includes(key)) {
      throw new InvalidOptionError(`connection.${key}`, `Invalid option connection.${key}: ${key} is a plugin option; pass it next to connection, not inside it`)
    }
  }
  const c = connection as ConnectionOptions
  if (typeof c.uri === 'string') parseConnectionUrl(c.uri)
  return { ...base, ...c }
}

/** Validates a connection URL; error messages show it with the password masked. */
export function parseConnectionUrl (url: string): string {
  let parsed: URL
  try {
    parsed = new URL(url)
  } catch {
    throw new InvalidOptionError('connection', `Invalid option connection: ${redactUrl(url)} is not a valid URL; expected 'mysql://user:password@host:port/database'`)
  }
  if (parsed.protocol !== 'mysql:' && parsed.protocol !== 'mariadb:') {
    throw new InvalidOptionError('connection', `Invalid option connection: unsupported protocol '${parsed.protocol}' in ${redactUrl(url)}; expected mysql: or mariadb:`)
  }
  if (parsed.hostname === '') {
    throw new InvalidOptionError('connection', `Invalid option connection: no host in ${redactUrl(url)}`)
  }
  // mysql2 only understands mysql: URLs.
  return parsed.protocol === 'mariadb:' ? 'mysql:' + url.slice('mariadb:'.length) : url
}

/** The URL with any password replaced by `****`, for messages and logs. */
export function redactUrl (url: string): string {
  // Greedy up to the last '@' before the host: a password may itself contain '@'.
  return url.replace(/^([a-z][a-z0-9+.-]*:\/\/[^:/@]*:)[^/]*@/i, '$1****@')
}
