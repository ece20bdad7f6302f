/**
 * The Fastify plugin: `request.db` (or `request.dbs.NAME` for a registration with a `name`) is a
 * lazily created Session, usable only while its request is live and released exactly once on
 * every way the request can end; `app.db` (`app.dbs.NAME`) is the pool's facade.
 *
 * Where a session ends (see request-scope.ts for when a request stops being live):
 * - the plugin's onSend hook, added as the *last* onSend hook of every route when the route is
 *   registered: a unit of work commits there, after every other onSend hook and before the
 *   response is written, so a failed commit still becomes an error response; then the session
 *   is closed and the request sealed (request.db throws from then on);
 * - the socket's 'close' (client abort, connection timeout, pipelined requests whose connection
 *   went away): sessions close at once, running statements are stopped with KILL QUERY, and a
 *   checkout still waiting for the pool leaves the queue;
 * - onResponse: the response finished (also hijacked replies, 404s and routes registered before
 *   the plugin, which never get the route-level hook).
 * Under `handlerTimeout` Fastify answers while the handler still runs: the onSend hook closes the
 * session (interrupting a statement in flight) and the handler's next statement throws.
 */
import type { FastifyInstance, FastifyPluginAsync, FastifyReply, FastifyRequest, RouteOptions } from 'fastify'
import fp from 'fastify-plugin'
import { InvalidOptionError, SessionClosedError } from '../errors'
import { resolvePluginOptions, type DbSessionPluginOptions, type PoolClassName, type PoolOptions } from '../options'
import { AssertionPool } from '../pool/assertion-pool'
import type { Creator, Pool } from '../pool/base-pool'
import { guardLogger, type PoolLogger } from '../pool/logger'
import { NullPool } from '../pool/null-pool'
import { QueuePool } from '../pool/queue-pool'
import { StaticPool } from '../pool/static-pool'
import { Session } from '../session/session'
import { defaultPoolOptions, stripUndefined } from '../pool/options'
import { poolConnectionLimit } from '../pool/statement-budget'
import { connectionFactory } from './connection-factory'
import { observePool } from '../observe/plugin-metrics'
import { Cluster } from '../cluster/cluster'
import { DbFacade } from './db-facade'
import { nestedCheckoutProbe } from './nested-checkout'
import { currentRequest, inRequestContext } from './request-context'
import { exposeWrappedDbError } from './wrapped-errors'
import { closeQuietly, ENDED_SCOPE, RequestScope } from './request-scope'
import { resolveRouteConfig, type RouteDbConfig, type RouteDbSettings } from './route-config'
import { endOfHandlerNow, guardHijack } from './unit-of-work'

/** `request.dbs`: the request's session of each named registration. Augment it for exact names. */
export interface DbSessions { readonly [name: string]: Session }
/** `app.dbs`: the facade of each named registration. Augment it for exact names. */
export interface DbFacades { readonly [name: string]: DbFacade }

declare module 'fastify' {
  interface FastifyRequest {
    /** This request's database session; a connection is taken at its first statement. */
    readonly db: Session
    /** The sessions of the registrations with a `name`: `request.dbs.reports`. */
    readonly dbs: DbSessions
  }
  interface FastifyInstance {
    /** The pool and helpers for work outside requests. */
    db: DbFacade
    /** The facades of the registrations with a `name`: `app.dbs.reports`. */
    dbs: DbFacades
  }
  interface FastifyContextConfig {
    /** `{ transaction: true }`: the request's work runs in one transaction, committed before the response. */
    db?: RouteDbConfig
    /** The same, per named registration: `{ dbs: { reports: { transaction: true } } }`. */
    dbs?: Record<string, RouteDbConfig>
  }
}

const kScope = Symbol('fastify-db-session.scope')
const kFailed = Symbol('fastify-db-session.failed')
const kDbsProto = Symbol('fastify-db-session.dbsPrototype')
/** How many registrations this process made: each gets its own slot in a request's scope. */
let registrations = 0

interface BindableLogger { setBindings: (bindings: Record<string, unknown>) => void }

interface RequestState {
  [kScope]: RequestScope | null
  [kFailed]: boolean
}

const POOL_CLASSES: Record<PoolClassName, new (creator: Creator, options?: PoolOptions) => Pool> = {
  queue: QueuePool,
  null: NullPool,
  static: StaticPool,
  assertion: AssertionPool
}

const state = (request: FastifyRequest): RequestState => request as unknown as RequestState

/** The request's scope, created at its first use of the database; never live once the request ended. */
function scopeFor (request: FastifyRequest): RequestScope {
  const s = state(request)
  let scope = s[kScope]
  if (scope === null) {
    scope = new RequestScope(request.raw, request.log)
    s[kScope] = scope
  }
  return scope
}

const plugin: FastifyPluginAsync<DbSessionPluginOptions> = async function dbSession (fastify, opts) {
  const options = resolvePluginOptions(opts)
  const name = options.name
  const where = name === undefined ? 'app.db' : `app.dbs.${name}`
  checkNotRegistered(fastify, name)

  // Guarded here, not only in the pool: the cluster, the connection factory and the replica checks
  // log from the middle of their bookkeeping too (lib/pool/logger.ts says why that matters).
  const poolLog = guardLogger(fastify.log.child(name === undefined ? { component: 'db-pool' } : { component: 'db-pool', db: name }) as unknown as PoolLogger)
  let pool: Pool
  let cluster: Cluster | undefined
  if (options.pool !== undefined) {
    pool = options.pool
  } else {
    // The primary (one server or a node list), its replicas, server facts: lib/cluster. Every
    // connection is opened by the factory: credentials per connect, the statement cache cap.
    const PoolClass = POOL_CLASSES[options.poolClass]
    const o = { ...defaultPoolOptions, ...stripUndefined(options.poolOptions) }
    cluster = new Cluster({
      options: options.cluster,
      poolOptions: { ...options.poolOptions, logger: poolLog },
      autoRecycle: options.autoRecycle,
      makePool: (creator, poolOptions) => new PoolClass(creator, poolOptions),
      log: poolLog,
      connect: connectionFactory({
        source: options.connectionSource === undefined ? undefined : { fn: options.connectionSource, standsFor: options.connection },
        poolOptions: options.poolOptions,
        maxPreparedStatements: options.maxPreparedStatements,
        poolMax: poolConnectionLimit(o.poolSize, o.maxOverflow),
        log: poolLog
      })
    })
    pool = cluster.primary
  }
  const stopMetrics = observePool(pool, options.observe, name, options.connectionSource === undefined ? options.connection : undefined, poolLog)
  const index = registrations++
  const routeKey = Symbol(`fastify-db-session.route.${name ?? 'db'}`)
  const configPath = name === undefined ? 'config.db' : `config.dbs.${name}`

  /** The request's session of this registration, created lazily while the request is live. */
  function sessionOf (request: FastifyRequest): Session {
    const scope = scopeFor(request)
    const session = scope.sessions[index]
    if (!scope.live) throw new SessionClosedError()
    if (session !== undefined) return session
    const config = request.routeOptions.config as unknown as Record<symbol, RouteDbSettings | undefined> & { db?: unknown, dbs?: Record<string, unknown> }
    let settings = config[routeKey]
    if (settings === undefined) {
      // A route this registration never saw (registered before the plugin, or the 404 handler):
      // it has no commit hook, so a unit of work there could never be committed before its answer.
      settings = resolveRouteConfig(name === undefined ? config.db : config.dbs?.[name], configPath)
      if (settings.transaction) {
        throw new InvalidOptionError(configPath, `${configPath}.transaction on ${request.routeOptions.url ?? 'this route'}: the route was registered before fastify-db-session; register the plugin first`)
      }
    }
    const created = new Session(settings.replica && cluster !== undefined ? cluster.replicaSource() : pool, {
      transaction: settings.transaction && (scope.hijacked & (1 << index)) === 0 ? settings.begin ?? true : false,
      signal: scope,
      logger: request.log,
      requestId: request.id
    })
    scope.sessions[index] = created
    return created
  }

  const facade = new DbFacade(pool, {
    cluster,
    where,
    current: () => {
      const request = currentRequest()
      return request === undefined ? undefined : sessionOf(request)
    }
  })

  pool.nestedCheckoutProbe = nestedCheckoutProbe(facade, where, poolLog)

  if (!fastify.hasRequestDecorator(kScope as unknown as string)) {
    fastify.decorateRequest(kScope as unknown as string, null)
    fastify.decorateRequest(kFailed as unknown as string, false)
  }
  if (name === undefined) {
    fastify.decorate('db', facade)
    fastify.decorateRequest('db', {
      getter (this: FastifyRequest): Session {
        return sessionOf(this)
      }
    })
  } else {
    addNamed(fastify, name, facade, sessionOf)
  }

  // Every route registered from here on: validate its config once, end its session with the
  // last onSend hook, and run its handler in the request's async context.
  const useContext = options.requestContext
  fastify.addHook('onRoute', function prepareRoute (route: RouteOptions) {
    const config = (route.config ?? {}) as { db?: unknown, dbs?: Record<string, unknown> }
    const settings = resolveRouteConfig(name === undefined ? config.db : config.dbs?.[name], configPath)
    route.config = { ...route.config, [routeKey]: settings } as RouteOptions['config']
    route.onSend = [...toArray(route.onSend), finishSession]
    if (useContext) route.handler = inRequestContext(route.handler as Parameters<typeof inRequestContext>[0]) as RouteOptions['handler']
    if (settings.transaction) {
      const handler = route.handler
      route.handler = function unitOfWorkHandler (this: FastifyInstance, request: FastifyRequest, reply: FastifyReply) {
        guardHijack(reply, scopeFor, index)
        return handler.call(this, request, reply)
      } as RouteOptions['handler']
    }
  })

  fastify.addHook('onError', function markFailed (request, _reply, error, done) {
    state(request)[kFailed] = true
    // Before any error handler: a query builder's wrapper answers as our error (no SQL, our status).
    exposeWrappedDbError(error)
    done()
  })

  function finishSession (request: FastifyRequest, reply: FastifyReply, payload: unknown, done: (err: Error | null, payload?: unknown) => void): void {
    const scope = state(request)[kScope]
    if (scope === null) {
      // The answer is decided: a floating task must not start work for this request now.
      state(request)[kScope] = ENDED_SCOPE
      done(null, payload)
      return
    }
    scope.seal()
    const session = scope.sessions[index]
    if (session === undefined || session.closed) {
      done(null, payload)
      return
    }
    // A client already gone (its socket destroyed, the close event not yet run) gets no commit.
    const failed = state(request)[kFailed] || reply.statusCode >= 400 || scope.clientGone
    const ending = endOfHandlerNow(session, failed, request)
    if (ending === undefined) {
      finish(request, done, null, payload)
      return
    }
    ending.then(() => finish(request, done, null, payload), (err: Error) => {
      state(request)[kFailed] = true
      finish(request, done, err)
    })
  }

  const logStats = shouldLogStats(fastify, options.logPoolStats !== false)
  // The gauges by default: the counters on every line cost JSON for little (they are in stats()).
  const poolFields = options.logPoolStats === 'full' ? () => pool.stats() : () => pool.gauges()
  const poolKey = name === undefined ? 'dbPool' : `dbPool:${name}`
  const sessionKey = name === undefined ? 'dbSession' : `dbSession:${name}`
  /** One setBindings call puts both fields on Fastify's own "request completed" line. */
  function logFields (request: FastifyRequest, session: Session | undefined): void {
    if (!logStats) return
    (request.log as unknown as BindableLogger).setBindings(session === undefined
      ? { [poolKey]: poolFields() }
      : { [poolKey]: poolFields(), [sessionKey]: session.stats() })
  }
  fastify.addHook('onResponse', function releaseAndLog (request, _reply, done) {
    const scope = state(request)[kScope]
    if (scope === null) {
      state(request)[kScope] = ENDED_SCOPE
      logFields(request, undefined)
      done()
      return
    }
    const session = scope.sessions[index]
    // A hijacked reply skips onSend, and so do routes registered before the plugin: the response
    // is finished, so the session ends here (a unit of work not committed by now rolls back).
    // A session closed earlier is not waited for (a handler timeout's interrupt can take seconds),
    // except for a streamed unit of work's COMMIT in flight: the log line then says how it ended.
    const closing = session !== undefined && (!session.closed || session.closeAwaitsCommit) ? closeQuietly(session, request.log) : undefined
    scope.end()
    if (closing === undefined) {
      logFields(request, session)
      done()
      return
    }
    const log = (): void => {
      // A serializer can throw here; handed to done() as on the synchronous path, where Fastify
      // catches it, rather than lost as an unhandled rejection with done() never called.
      let failed: Error | undefined
      try {
        logFields(request, session)
      } catch (err) {
        failed = err instanceof Error ? err : new Error('Writing the request\'s pool fields to its log failed', { cause: err })
      }
      done(failed)
    }
    closing.then(log, log)
  })

  // onClose runs after in-flight requests finished; close() still waits (bounded) for stragglers.
  if (cluster !== undefined) {
    const c = cluster
    // The replicas' first health check (bounded by replicaCheckTimeout), so they serve from the first request.
    fastify.addHook('onReady', () => c.start())
  }
  fastify.addHook('onClose', async function closePool () {
    await cluster?.close()
    await pool.close()
    stopMetrics()
  })
}

/** The same name twice (or two unnamed registrations) in one app is a mistake: say so at register. */
function checkNotRegistered (fastify: FastifyInstance, name: string | undefined): void {
  if (name === undefined) {
    if (fastify.hasDecorator('db')) {
      throw new InvalidOptionError('name', 'fastify-db-session is already registered without a name here (app.db exists): give this registration a name, e.g. { name: \'reports\' }, to reach it as request.dbs.reports')
    }
    return
  }
  if (fastify.hasDecorator('dbs') && Object.hasOwn(fastify.dbs, name)) {
    throw new InvalidOptionError('name', `Invalid option name: a database named '${name}' is already registered (app.dbs.${name}); every registration needs its own name`)
  }
}

type SessionGetter = (request: FastifyRequest) => Session

/** `app.dbs.NAME` and `request.dbs.NAME`, sharing one prototype of getters across registrations. */
function addNamed (fastify: FastifyInstance, name: string, facade: DbFacade, sessionOf: SessionGetter): void {
  if (!fastify.hasDecorator('dbs')) fastify.decorate('dbs', Object.defineProperty({}, kDbsProto, { value: {} }))
  const facades = fastify.dbs as unknown as Record<string | symbol, unknown>
  const proto = facades[kDbsProto] as object
  Object.defineProperty(facades, name, { value: facade, enumerable: true })
  Object.defineProperty(proto, name, {
    enumerable: true,
    get (this: { request: FastifyRequest }): Session {
      return sessionOf(this.request)
    }
  })
  if (!fastify.hasRequestDecorator('dbs')) {
    fastify.decorateRequest('dbs', {
      getter (this: FastifyRequest): DbSessions {
        return Object.create(proto, { request: { value: this } }) as DbSessions
      }
    })
  }
}

/** Continues Fastify's onSend chain outside the promise, so a throw there is logged, not an unhandled rejection. */
function finish (request: FastifyRequest, done: (err: Error | null, payload?: unknown) => void, err: Error | null, payload?: unknown): void {
  try {
    done(err, payload)
  } catch (thrown) {
    request.log.error({ err: thrown }, 'Could not send the response after the database work ended')
  }
}

function toArray<T> (value: T | T[] | undefined): T[] {
  if (value === undefined) return []
  return Array.isArray(value) ? value : [value]
}

function shouldLogStats (fastify: FastifyInstance, wanted: boolean): boolean {
  if (!wanted || fastify.initialConfig.disableRequestLogging === true) return false
  const log = fastify.log as { setBindings?: unknown, isLevelEnabled?: (level: string) => boolean }
  // With `logger: false` the request logger is a no-op without setBindings: skip the hook entirely.
  return typeof log.setBindings === 'function' && (log.isLevelEnabled === undefined || log.isLevelEnabled('info'))
}

/** The plugin, wrapped so its decorators and hooks apply to the whole app. */
export const dbSession = fp(plugin, {
  name: 'fastify-db-session',
  fastify: '5.x',
  dependencies: ['@fastify/sensible']
})
