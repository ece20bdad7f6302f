/**
 * Every error this package throws, each with a stable `FST_DB_*` code.
 *
 * HTTP-facing errors carry `statusCode` so Fastify's error handler (or the user's) answers with the
 * right status without knowing about this package. Messages never include SQL, server error text
 * or credentials: the original driver error is kept as `cause`, which goes to the log only.
 */
import type { PoolStats } from './pool/stats'

export type DbErrorCode =
  | 'FST_DB_INVALID_OPTION'
  | 'FST_DB_POOL_TIMEOUT'
  | 'FST_DB_POOL_CLOSED'
  | 'FST_DB_UNAVAILABLE'
  | 'FST_DB_DRIVER_TIMEOUT'
  | 'FST_DB_CONNECTION_INVALIDATED'
  | 'FST_DB_ALREADY_CHECKED_OUT'
  | 'FST_DB_SESSION_CLOSED'
  | 'FST_DB_PENDING_ROLLBACK'
  | 'FST_DB_TRANSACTION_STATE'
  | 'FST_DB_COMMIT_FAILED'
  | 'FST_DB_QUERY_FAILED'
  | 'FST_DB_DISCONNECTED'
  | 'FST_DB_TRANSACTION_CONFLICT'
  | 'FST_DB_NO_REQUEST'
  | 'FST_DB_MISSING_PEER'

/** Base class: `instanceof DbError` catches everything this package throws. */
export class DbError extends Error {
  readonly code: DbErrorCode
  /** HTTP status Fastify answers with when this error escapes a handler. */
  readonly statusCode: number
  /** Response headers Fastify's error handler sets (e.g. `Retry-After` on a 503). */
  readonly headers: Record<string, string> | undefined

  constructor (code: DbErrorCode, message: string, statusCode: number, options?: ErrorOptions & { retryAfter?: number }) {
    super(message, options)
    this.name = new.target.name
    this.code = code
    this.statusCode = statusCode
    this.headers = options?.retryAfter === undefined ? undefined : { 'retry-after': String(options.retryAfter) }
  }
}

/** An option given to a pool or to the plugin is unknown, of the wrong type or out of range. */
export class InvalidOptionError extends DbError {
  readonly option: string
  constructor (option: string, message: string) {
    super('FST_DB_INVALID_OPTION', message, 500)
    this.option = option
  }
}

/** Why `failFast` refused a checkout at arrival: the queue ahead of it and the wait it was expected to take. */
export interface FailFastRefusal {
  ahead: number
  expectedMs: number
}

/** SQLAlchemy's `TimeoutError`: the pool stayed at its limit for `timeout` ms. */
export class PoolTimeoutError extends DbError {
  /** The pool's stats at the moment the wait gave up. */
  readonly stats: PoolStats
  /** Seconds a client may wait before retrying (sent as `Retry-After`). */
  readonly retryAfter: number

  /** The waiting caller already held a connection of this pool (nested checkout): what the message adds. */
  readonly nestedCheckout: string | undefined

  /**
   * Refused at arrival by `failFast` (the queue ahead could not be served within the timeout),
   * not after waiting the whole timeout.
   */
  readonly refusedAtOnce: boolean

  constructor (size: number, overflow: number, timeoutMs: number, stats: PoolStats, cause?: unknown, nestedCheckout?: string, refusal?: FailFastRefusal) {
    const retryAfter = Math.max(1, Math.ceil(timeoutMs / 1000))
    // SQLAlchemy's sentence first, so the message greps the same; then why it came at once.
    super(
      'FST_DB_POOL_TIMEOUT',
      `QueuePool limit of size ${size} overflow ${overflow} reached, connection timed out, timeout ${(timeoutMs / 1000).toFixed(2)}` +
        (refusal === undefined ? '' : `; refused at once (poolFailFast): the ${refusal.ahead} checkouts queued ahead need about ${(refusal.expectedMs / 1000).toFixed(2)} s at the measured hold time`) +
        (nestedCheckout === undefined ? '' : `; ${nestedCheckout}`),
      503,
      cause === undefined ? { retryAfter } : { cause, retryAfter }
    )
    this.stats = stats
    this.retryAfter = retryAfter
    this.nestedCheckout = nestedCheckout
    this.refusedAtOnce = refusal !== undefined
  }
}

export class PoolClosedError extends DbError {
  constructor (message = 'The connection pool is closed') {
    super('FST_DB_POOL_CLOSED', message, 503, { retryAfter: 5 })
  }
}

/** A new connection could not be opened (refused, unreachable, bad credentials, too many connections). */
export class DatabaseUnavailableError extends DbError {
  constructor (cause: unknown) {
    const code = (cause as { code?: unknown } | null)?.code
    // The driver's code (ECONNREFUSED, ER_ACCESS_DENIED_ERROR…) explains the failure without
    // echoing server text or connection details.
    const why = typeof code === 'string' || typeof code === 'number' ? ` (${code})` : ''
    super('FST_DB_UNAVAILABLE', `Cannot connect to the database${why}`, 503, { cause, retryAfter: 1 })
  }
}

/** A call the pool makes on the driver (connect, ping, reset, rollback) did not answer in time. */
export class DriverTimeoutError extends DbError {
  readonly operation: string
  readonly timeoutMs: number
  constructor (operation: string, timeoutMs: number) {
    super('FST_DB_DRIVER_TIMEOUT', `Database ${operation} did not answer within ${timeoutMs} ms`, 503)
    this.operation = operation
    this.timeoutMs = timeoutMs
  }
}

/** The pooled connection was invalidated (explicitly or by a disconnect) and cannot run statements. */
export class ConnectionInvalidatedError extends DbError {
  constructor (options?: ErrorOptions) {
    super('FST_DB_CONNECTION_INVALIDATED', 'This connection was invalidated and is closed', 503, options)
  }
}

/** AssertionPool: a second checkout while one is outstanding. */
export class AlreadyCheckedOutError extends DbError {
  constructor (message: string) {
    super('FST_DB_ALREADY_CHECKED_OUT', message, 500)
  }
}

export class SessionClosedError extends DbError {
  constructor (options?: ErrorOptions) {
    super('FST_DB_SESSION_CLOSED', 'This session is closed; it cannot be used after its request ended or after close()', 500, options)
  }
}

/** SQLAlchemy's PendingRollbackError: the connection died inside a transaction. */
export class PendingRollbackError extends DbError {
  constructor (options?: ErrorOptions) {
    super(
      'FST_DB_PENDING_ROLLBACK',
      "Can't reconnect until invalid transaction is rolled back. Please rollback() fully before proceeding",
      500,
      options
    )
  }
}

/** begin() inside a transaction, commit() outside one, and similar misuse. */
export class TransactionStateError extends DbError {
  constructor (message: string) {
    super('FST_DB_TRANSACTION_STATE', message, 500)
  }
}

/** The request's transaction could not be committed; its work is rolled back (never a 2xx). */
export class CommitFailedError extends DbError {
  constructor (cause: unknown) {
    super('FST_DB_COMMIT_FAILED', 'The transaction could not be committed and was rolled back', 500, { cause })
  }
}

/**
 * A statement failed. The message is generic so that SQL and server text never reach an HTTP
 * client; `errno`, `sqlState` and `dbCode` (e.g. `ER_DUP_ENTRY`) let handlers branch on the cause.
 */
export class QueryError extends DbError {
  readonly errno: number | undefined
  readonly sqlState: string | undefined
  readonly dbCode: string | undefined

  constructor (cause: unknown, kind?: { code: DbErrorCode, message: string, statusCode: number, retryAfter?: number }) {
    const c = (cause ?? {}) as { errno?: unknown, sqlState?: unknown, code?: unknown }
    const dbCode = typeof c.code === 'string' ? c.code : undefined
    super(
      kind?.code ?? 'FST_DB_QUERY_FAILED',
      kind?.message ?? (dbCode === undefined ? 'Database query failed' : `Database query failed (${dbCode})`),
      kind?.statusCode ?? 500,
      { cause, retryAfter: kind?.retryAfter })
    this.errno = typeof c.errno === 'number' ? c.errno : undefined
    this.sqlState = typeof c.sqlState === 'string' ? c.sqlState : undefined
    this.dbCode = dbCode
  }
}

/** The connection was lost while a statement ran (server restart, KILL, network). Safe to retry. */
export class DisconnectedError extends DbError {
  constructor (cause: unknown) {
    const code = (cause as { code?: unknown } | null)?.code
    const why = typeof code === 'string' || typeof code === 'number' ? ` (${code})` : ''
    super('FST_DB_DISCONNECTED', `The database connection was lost${why}`, 503, { cause, retryAfter: 1 })
  }
}

/**
 * The database rolled the transaction back (deadlock, 1213; a Galera certification failure, also
 * 1213, on COMMIT) or a lock wait timed out (1205). Nothing is wrong with the request: the same
 * request again will very likely succeed, so over HTTP it is a 503 with `Retry-After` (see the
 * README), and `transaction(fn, { retries })` runs `fn` again by itself. `attempts` counts the tries.
 */
export class TransactionConflictError extends QueryError {
  readonly attempts: number
  constructor (cause: unknown, attempts = 1) {
    const c = cause as { errno?: unknown } | null
    const what = c?.errno === 1205 ? 'a lock wait timed out (ER_LOCK_WAIT_TIMEOUT)' : 'it conflicted with another transaction (ER_LOCK_DEADLOCK)'
    super(cause, {
      code: 'FST_DB_TRANSACTION_CONFLICT',
      message: `The transaction was rolled back because ${what}${attempts > 1 ? ` after ${attempts} attempts` : ''}; retry it`,
      statusCode: 503,
      retryAfter: 1
    })
    this.attempts = attempts
  }
}

/** `app.db.current()` outside any request's async context. */
export class NoRequestError extends DbError {
  constructor (where = 'app.db') {
    super(
      'FST_DB_NO_REQUEST',
      `${where}.current() was called outside a request: no request's async context is running here. ` +
        `Outside requests use ${where}.session() (and close it) or ${where}.query()`,
      500
    )
  }
}

/** An integration entry point (`fastify-db-session/kysely`, `/drizzle`) without its optional peer installed. */
export class MissingPeerError extends DbError {
  readonly peer: string
  constructor (peer: string, entry: string, cause: unknown) {
    super('FST_DB_MISSING_PEER', `${entry} needs the optional peer dependency "${peer}", which is not installed: npm install ${peer}`, 500, { cause })
    this.peer = peer
  }
}
