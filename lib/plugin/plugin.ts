/**
 * The Fastify plugin: `request.db` is a lazily created Session released exactly once on every way
 * a request can end, and `app.db` is the pool's facade.
 *
 * Release points, because no single Fastify hook runs on every path (fastify#6208):
 * - `onSend`: the handler has settled (or failed). A unit of work commits here, *before* the
 *   response is written, so a failed commit still becomes an error response; then the session
 *   is closed.
 * - the response's `close` event, attached only to requests that touched the database: it fires
 *   on client aborts and connection timeouts, where onSend/onResponse never run, and after every
 *   response over a real socket. (Not the request's: that one fires once a body has been read.)
 * - `onResponse`: the response is finished; catches hijacked replies (no onSend) under inject(),
 *   whose fake request never emits `close`.
 * Under `handlerTimeout` Fastify answers while the handler still runs; the session is closed
 * anyway, a statement still in flight is interrupted with KILL QUERY (the connection is reset and
 * reused; destroyed if that fails), and the handler's next statement throws SessionClosedError.
 */
import type { FastifyInstance, FastifyPluginAsync, FastifyReply, FastifyRequest } from 'fastify'
import fp from 'fastify-plugin'
import mysql from 'mysql2/promise'
import { DbFacade } from './db-facade'
import { CommitFailedError } from '../errors'
import { resolvePluginOptions, type DbSessionPluginOptions, type PoolClassName, type PoolOptions } from '../options'
import { AssertionPool } from '../pool/assertion-pool'
import type { Creator, Pool } from '../pool/base-pool'
import type { PoolLogger } from '../pool/logger'
import { NullPool } from '../pool/null-pool'
import { QueuePool } from '../pool/queue-pool'
import { StaticPool } from '../pool/static-pool'
import { Session } from '../session/session'
import { observePool } from '../observe/plugin-metrics'

declare module 'fastify' {
  interface FastifyRequest {
    /** This request's database session; a connection is taken at its first statement. */
    readonly db: Session
  }
  interface FastifyInstance {
    /** The pool and helpers for work outside requests. */
    db: DbFacade
  }
  interface FastifyContextConfig {
    /** `{ transaction: true }`: the request's work runs in one transaction, committed before the response. */
    db?: { transaction?: boolean }
  }
}

const kSession = Symbol('fastify-db-session.session')
const kFailed = Symbol('fastify-db-session.failed')
const kResponse = Symbol('fastify-db-session.response')

interface BindableLogger { setBindings: (bindings: Record<string, unknown>) => void }

interface RequestState {
  [kSession]: Session | null
  [kFailed]: boolean
  [kResponse]: FastifyReply['raw'] | null
}

const POOL_CLASSES: Record<PoolClassName, new (creator: Creator, options?: PoolOptions) => Pool> = {
  queue: QueuePool,
  null: NullPool,
  static: StaticPool,
  assertion: AssertionPool
}

const plugin: FastifyPluginAsync<DbSessionPluginOptions> = async function dbSession (fastify, opts) {
  const options = resolvePluginOptions(opts)
  const poolLog = fastify.log.child({ component: 'db-pool' }) as unknown as PoolLogger
  let pool: Pool
  if (options.pool !== undefined) {
    pool = options.pool
  } else {
    const connection = options.connection
    pool = new POOL_CLASSES[options.poolClass](() => mysql.createConnection(connection), { ...options.poolOptions, logger: poolLog })
  }
  const stopMetrics = observePool(pool, options.observe, undefined, options.connection)
  const facade = new DbFacade(pool)
  fastify.decorate('db', facade)

  fastify.decorateRequest(kSession, null)
  fastify.decorateRequest(kFailed, false)
  fastify.decorateRequest(kResponse, null)
  // The request's own 'close' fires as soon as its body has been read (mid-handler for a POST);
  // the response's 'close' fires once, when the response is done or the client went away.
  fastify.addHook('onRequest', function keepResponse (request, reply, done) {
    (request as unknown as RequestState)[kResponse] = reply.raw
    done()
  })
  fastify.decorateRequest('db', {
    getter (this: FastifyRequest): Session {
      const state = this as unknown as RequestState
      let session = state[kSession]
      if (session === null) {
        const config = this.routeOptions.config as { db?: { transaction?: boolean } }
        session = new Session(pool, { transaction: config.db?.transaction === true, requestId: this.id })
        state[kSession] = session
        const s = session
        // Fires on every path, also when no other hook runs (abort, timeout, hijack).
        state[kResponse]?.once('close', () => { void closeQuietly(s, this) })
      }
      return session
    }
  })

  fastify.addHook('onError', function markFailed (request, _reply, _error, done) {
    (request as unknown as RequestState)[kFailed] = true
    done()
  })

  fastify.addHook('onSend', function finishSession (request, reply, payload, done) {
    const session = (request as unknown as RequestState)[kSession]
    if (session === null || session.closed) {
      done(null, payload)
      return
    }
    endOfHandler(session, request, reply).then(() => done(null, payload), (err: Error) => done(err))
  })

  const logStats = shouldLogStats(fastify, options.logPoolStats)
  fastify.addHook('onResponse', function releaseAndLog (request, _reply, done) {
    const session = (request as unknown as RequestState)[kSession]
    const log = (): void => {
      // One setBindings call puts both fields on Fastify's own "request completed" line.
      if (logStats) (request.log as unknown as BindableLogger).setBindings(session === null ? { dbPool: pool.stats() } : { dbPool: pool.stats(), dbSession: session.stats() })
      done()
    }
    // A hijacked reply skips onSend, and under inject() the request never emits 'close': the
    // response is finished, so the session ends here.
    if (session !== null && !session.closed) closeQuietly(session, request).then(log, log)
    else log()
  })

  // onClose runs after in-flight requests finished; close() still waits (bounded) for stragglers.
  fastify.addHook('onClose', async function closePool () {
    await pool.close()
    stopMetrics()
  })
}

/**
 * The handler settled. A unit of work commits if nothing failed, else rolls back; a failed
 * commit throws, which Fastify turns into an error response (never a 2xx).
 */
async function endOfHandler (session: Session, request: FastifyRequest, reply: FastifyReply): Promise<void> {
  const failed = (request as unknown as RequestState)[kFailed] || reply.statusCode >= 400
  if (session.busy) {
    if (failed) {
      // Handler timeout (or an error while a statement runs): the session closes now, so the
      // handler can't reach the connection again; the pool interrupts the statement and resets
      // the connection in the background, and the error response does not wait for that.
      void closeQuietly(session, request)
      return
    }
    // The handler returned while a statement it started is still running: that statement is
    // part of the request's work, so it finishes before the commit and the response.
    await session.whenIdle()
  }
  // Closing rolls back an open transaction; it is awaited so the connection is back in the pool
  // (and the pool stats in the log line are settled) before the response goes out. When no reset
  // is needed (reads only) this completes synchronously.
  if (!session.isUnitOfWork || failed) {
    await closeQuietly(session, request)
    return
  }
  try {
    // Also when no transaction is open: commit() throws PendingRollbackError if the unit of work
    // lost its transaction (disconnect, deadlock) and the handler carried on: never a 2xx then.
    await session.commit()
  } catch (err) {
    await closeQuietly(session, request)
    ;(request as unknown as RequestState)[kFailed] = true
    throw err instanceof CommitFailedError ? err : new CommitFailedError(err)
  }
  await closeQuietly(session, request)
}

async function closeQuietly (session: Session, request: FastifyRequest): Promise<void> {
  try {
    await session.close()
  } catch (err) {
    request.log.error({ err }, 'Could not return the database connection')
  }
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
