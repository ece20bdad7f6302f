/**
 * The plugin's options: create_engine's names, mapped onto the pool's (validated there), plus the
 * `connection` option (URL or mysql2 options). Fails at register time naming the option.
 */
import type { ConnectionOptions } from 'mysql2'
import { withUrlTls } from './connection-tls'
import { DEFAULT_MAX_PREPARED_STATEMENTS } from './pool/statement-budget'
import { InvalidOptionError } from './errors'
import {
  CLUSTER_OPTION_NAMES, resolveClusterOptions, type ClusterPluginOptions, type ConnectionOption, type ReplicaPoolOptions,
  type ResolvedClusterOptions
} from './cluster/options'
import type { Pool } from './pool/base-pool'
import type { MeterProviderLike, PrometheusRegistry } from './observe/metrics'
import type { ObserveOptions } from './observe/plugin-metrics'
import {
  boolean, defaultPoolOptions, fail, integer, oneOf, POOL_CLASSES, rejectUnknown, resolvePoolOptions,
  type PoolClassName, type PoolOptions, type ResetOnReturn
} from './pool/options'

export { defaultPoolOptions, rejectUnknown, resolvePoolOptions, type PoolClassName, type PoolOptions, type ResetOnReturn }
export type { ResolvedPoolOptions } from './pool/options'

/** `connection` as a function, called for every new connection (rotating passwords, IAM tokens). */
export type ConnectionSource = () => string | ConnectionOptions | Promise<string | ConnectionOptions>

export interface DbSessionPluginOptions extends ClusterPluginOptions {
  /**
   * Registers a further database under this name: `request.dbs.NAME` / `app.dbs.NAME` instead of
   * `request.db` / `app.db`. A JavaScript identifier; each name once per app.
   */
  name?: string
  /**
   * Run route handlers in their request's async context so `app.db.current()` finds the request's
   * session from any module (default true). Off: a little less work per request, no current().
   */
  requestContext?: boolean
  /**
   * A `mysql://user:password@host:port/database` URL or mysql2 ConnectionOptions; a list of them
   * (cluster nodes, a primary and its standby: new connections go to the first healthy one); or a
   * function (sync or async) returning one, called for every new connection (rotating credentials).
   */
  connection?: ConnectionOption | ConnectionOption[] | ConnectionSource
  /** Prepared statements cached per connection by execute() (LRU; evicted ones are closed on the server). */
  maxPreparedStatements?: number
  /** Sets up every new connection before its first hand-out (the raw mysql2/promise connection). */
  onConnect?: PoolOptions['onConnect']
  /** Use this pool instead of building one (SQLAlchemy's `create_engine(pool=...)`); closed with the app. */
  pool?: Pool
  poolClass?: PoolClassName
  poolSize?: number
  maxOverflow?: number
  poolTimeout?: number
  /** ms; -1 = off; 'auto' (the default) = a margin below the server's wait_timeout, read on the first connection. */
  poolRecycle?: number | 'auto'
  poolPrePing?: boolean
  poolResetOnReturn?: ResetOnReturn
  poolUseLifo?: boolean
  poolConnectTimeout?: number
  poolPingTimeout?: number
  poolResetTimeout?: number
  poolPrePingBypass?: number
  poolCloseTimeout?: number
  leakDetectionThreshold?: number
  /** Controlled delay: a checkout's wait cap (ms) once the queue stayed non-empty for poolQueueInterval; 0 = off. */
  poolQueueTarget?: number
  poolQueueInterval?: number
  /** Serve the newest waiter first while the queue is congested. */
  poolAdaptiveLifo?: boolean
  /** Refuse at once a checkout that the queue ahead can't serve within its timeout (fast 503). Default `true`; `false` waits the whole `poolTimeout`, as SQLAlchemy does. */
  poolFailFast?: boolean
  /** Add `dbPool`/`dbSession` to Fastify's `request completed` log line. */
  logPoolStats?: boolean | 'full'
  /** The pool's name in metrics and channel messages; default: the registration's `name`, else `host:port/database`. */
  poolName?: string
  /** OpenTelemetry pool metrics; default: on when @opentelemetry/api is installed and a MeterProvider is registered. */
  openTelemetry?: boolean | { meterProvider: MeterProviderLike }
  /** Prometheus pool metrics: `true` (prom-client's default registry) or a Registry; default off. */
  prometheus?: boolean | PrometheusRegistry
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
  leakDetectionThreshold: 'leakDetectionThreshold',
  poolQueueTarget: 'queueTarget',
  poolQueueInterval: 'queueInterval',
  poolAdaptiveLifo: 'adaptiveLifo',
  poolFailFast: 'failFast',
  onConnect: 'onConnect'
})

const OBSERVE_OPTION_NAMES = ['poolName', 'openTelemetry', 'prometheus']
const PLUGIN_OPTION_NAMES = ['name', 'connection', 'pool', 'poolClass', 'logPoolStats', 'requestContext', 'maxPreparedStatements', ...OBSERVE_OPTION_NAMES, ...Object.keys(PLUGIN_TO_POOL), ...CLUSTER_OPTION_NAMES]
const NAME_PATTERN = /^[A-Za-z_$][\w$]*$/

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
  name: string | undefined
  requestContext: boolean
  poolClass: PoolClassName
  poolOptions: PoolOptions
  /** false, the gauges ('gauges', for `true`) or the whole stats snapshot ('full'). */
  logPoolStats: false | 'gauges' | 'full'
  maxPreparedStatements: number
  observe: ObserveOptions
  /** poolRecycle 'auto': set from the server's wait_timeout on the first connection. */
  autoRecycle: boolean
}

/** Either a pool was given, or the connection options to build one. */
export type ResolvedPluginOptions =
  | ResolvedPluginCommon & { pool: Pool, connection: undefined, cluster: undefined, connectionSource: undefined }
  | ResolvedPluginCommon & {
    pool: undefined
    connection: ConnectionOptions
    cluster: ResolvedClusterOptions
    /** `connection` given as a function: called for every new connection to the primary. */
    connectionSource: ConnectionSource | undefined
  }

export function resolvePluginOptions (options: DbSessionPluginOptions): ResolvedPluginOptions {
  if (options === null || typeof options !== 'object') fail('options', 'an object', options)
  rejectUnknown('fastify-db-session', options, PLUGIN_OPTION_NAMES)
  const autoRecycle = options.poolRecycle === undefined || options.poolRecycle === 'auto'
  const poolOptions = mapPoolOptions(autoRecycle ? { ...options, poolRecycle: undefined } : options, '')
  const poolClass = options.poolClass === undefined ? 'queue' : oneOf('poolClass', options.poolClass, POOL_CLASSES)
  const logPoolStats: ResolvedPluginCommon['logPoolStats'] = options.logPoolStats === 'full'
    ? 'full'
    : options.logPoolStats === undefined || (typeof options.logPoolStats === 'boolean' ? options.logPoolStats : fail('logPoolStats', "true, false or 'full'", options.logPoolStats)) ? 'gauges' : false
  const maxPreparedStatements = options.maxPreparedStatements === undefined ? DEFAULT_MAX_PREPARED_STATEMENTS : integer('maxPreparedStatements', options.maxPreparedStatements, 1)
  const observe = resolveObserveOptions(options)
  const requestContext = options.requestContext === undefined ? true : boolean('requestContext', options.requestContext)
  const name = options.name
  if (name !== undefined && (typeof name !== 'string' || !NAME_PATTERN.test(name) || name === 'db')) {
    fail('name', "a JavaScript identifier other than 'db', e.g. 'reports' (reached as request.dbs.reports)", name)
  }
  const common = { name, requestContext, poolClass, poolOptions, logPoolStats, maxPreparedStatements, observe, autoRecycle }
  if (options.pool !== undefined) {
    if (options.connection !== undefined) {
      throw new InvalidOptionError('pool', 'Invalid options: give either connection or pool, not both')
    }
    const p = options.pool as { connect?: unknown } | null
    if (p === null || typeof p !== 'object' || typeof p.connect !== 'function') fail('pool', 'a pool instance (QueuePool, NullPool, StaticPool or AssertionPool)', options.pool)
    const needsConnection = ['replicas', 'causalReads'].find((k) => (options as Record<string, unknown>)[k] !== undefined)
    if (needsConnection !== undefined) throw new InvalidOptionError(needsConnection, `Invalid options: ${needsConnection} needs connection (the plugin builds those pools), not pool`)
    return { ...common, connection: undefined, pool: options.pool, cluster: undefined, connectionSource: undefined }
  }
  // A function is called (and what it returns validated) for every new connection to the primary;
  // in the node list a placeholder stands for it.
  const source = typeof options.connection === 'function' ? options.connection : undefined
  const cluster = resolveClusterOptions(source === undefined ? options : { ...options, connection: {} }, {
    connection: (value, option) => renamed(option, () => resolveConnection(value, poolOptions)),
    poolOptions: (replica: ReplicaPoolOptions, option) => mapPoolOptions(replica, `${option}.`)
  })
  return { ...common, connection: cluster.nodes[0], pool: undefined, cluster, connectionSource: source }
}

/** Plugin-named pool options → the pool's, validated; errors name the option as the user wrote it (`prefix` + name). */
function mapPoolOptions (options: object, prefix: string): PoolOptions {
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
    const pluginName = prefix + (Object.keys(PLUGIN_TO_POOL).find((k) => PLUGIN_TO_POOL[k] === e.option) ?? e.option)
    throw new InvalidOptionError(pluginName, e.message.replace(`option ${e.option}:`, `option ${pluginName}:`))
  }
  return poolOptions
}

/** poolName, openTelemetry, prometheus (lib/observe). */
function resolveObserveOptions (options: DbSessionPluginOptions): ObserveOptions {
  const { poolName, openTelemetry, prometheus } = options
  if (poolName !== undefined && (typeof poolName !== 'string' || poolName === '')) fail('poolName', 'a non-empty string', poolName)
  if (openTelemetry !== undefined && typeof openTelemetry !== 'boolean' &&
    typeof (openTelemetry as { meterProvider?: { getMeter?: unknown } } | null)?.meterProvider?.getMeter !== 'function') {
    fail('openTelemetry', 'true, false or { meterProvider } (an OpenTelemetry MeterProvider)', openTelemetry)
  }
  if (prometheus !== undefined && typeof prometheus !== 'boolean' &&
    typeof (prometheus as { registerMetric?: unknown } | null)?.registerMetric !== 'function') {
    fail('prometheus', 'true (prom-client\'s default registry), false or a prom-client Registry', prometheus)
  }
  return { poolName, openTelemetry: openTelemetry ?? 'auto', prometheus: prometheus ?? false }
}

/** Runs a resolver written for `connection` on another option (`replicas[0]`, `connection[1]`), naming that one. */
function renamed<T> (option: string, resolve: () => T): T {
  if (option === 'connection') return resolve()
  try {
    return resolve()
  } catch (err) {
    if (!(err instanceof InvalidOptionError)) throw err
    throw new InvalidOptionError(option, err.message.replace(/option connection\b/g, `option ${option}`))
  }
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
    return { ...base, ...withUrlTls(parseConnectionUrl(connection)) }
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
  if (typeof c.uri === 'string') {
    const fromUrl = withUrlTls(parseConnectionUrl(c.uri))
    return { ...base, ...fromUrl, ...c, uri: fromUrl.uri }
  }
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
  const masked = url.replace(/^([^:/@]*:\/\/[^:/@]*:)[^/]*@/, '$1****@')
  if (masked !== url) return masked
  // A raw '/' in the password, or no scheme before `user:password@`: mask up to the last '@' of
  // all (masking too much beats showing a password).
  return url.replace(/^([^:/@]*:\/\/[^:/@]*:|[^:/@]*:(?!\/\/))[\s\S]*@/, '$1****@')
}
