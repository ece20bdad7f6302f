/**
 * `app.db`: the pool, plus sessions and one-off statements for work outside a request
 * (startup migrations, jobs, health checks).
 */
import type { ExecuteValues, FieldPacket, QueryOptions, QueryResult, QueryValues } from 'mysql2'
import { NoRequestError } from '../errors'
import type { Pool } from '../pool/base-pool'
import type { PoolStats } from '../pool/stats'
import { Session, type SessionOptions } from '../session/session'

type Sql = string | QueryOptions

/** How a facade finds the session of the request it is called from (given by the plugin). */
export interface FacadeContext {
  /** How users reach this facade, for messages: `app.db` or `app.dbs.NAME`. */
  where: string
  /** The session of the request whose handler is running, created lazily; undefined outside requests. */
  current: () => Session | undefined
}

const NO_CONTEXT: FacadeContext = { where: 'app.db', current: () => undefined }

export class DbFacade {
  /** The pool instance (QueuePool unless `poolClass` says otherwise). */
  readonly pool: Pool
  readonly #context: FacadeContext

  constructor (pool: Pool, context: FacadeContext = NO_CONTEXT) {
    this.pool = pool
    this.#context = context
  }

  /**
   * The session of the request whose handler (or anything it calls) is running: the same object as
   * `request.db`. Throws NoRequestError (`FST_DB_NO_REQUEST`) outside a request, and
   * SessionClosedError once that request has ended.
   */
  current (): Session {
    const session = this.#context.current()
    if (session === undefined) throw new NoRequestError(this.#context.where)
    return session
  }

  /** Like current(), but undefined outside a request: for code that runs in both places. */
  tryCurrent (): Session | undefined {
    return this.#context.current()
  }

  /** A session for work outside a request; close it, or use `await using s = app.db.session()`. */
  session (options?: SessionOptions): Session {
    return new Session(this.pool, options)
  }

  /** Checkout, one statement, return. */
  query<T extends QueryResult = QueryResult> (sql: Sql, values?: QueryValues): Promise<[T, FieldPacket[]]> {
    return this.#oneOff((session) => session.query<T>(sql, values))
  }

  /** Checkout, one prepared statement, return. */
  execute<T extends QueryResult = QueryResult> (sql: Sql, values?: ExecuteValues): Promise<[T, FieldPacket[]]> {
    return this.#oneOff((session) => session.execute<T>(sql, values))
  }

  async #oneOff<R> (work: (session: Session) => Promise<R>): Promise<R> {
    const session = new Session(this.pool)
    try {
      return await work(session)
    } finally {
      await session.close()
    }
  }

  /** The pool's stats snapshot. */
  stats (): PoolStats {
    return this.pool.stats()
  }

  /** The pool's SQLAlchemy status line. */
  status (): string {
    return this.pool.status()
  }
}
