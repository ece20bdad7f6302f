/**
 * `app.db`: the pool, plus sessions and one-off statements for work outside a request
 * (startup migrations, jobs, health checks).
 */
import type { ExecuteValues, FieldPacket, QueryOptions, QueryResult, QueryValues } from 'mysql2'
import type { Pool } from '../pool/base-pool'
import type { PoolStats } from '../pool/stats'
import { Session, type SessionOptions } from '../session/session'
import { checkHealth, type HealthOptions, type HealthReport } from '../observe/health'

type Sql = string | QueryOptions

export class DbFacade {
  /** The pool instance (QueuePool unless `poolClass` says otherwise). */
  readonly pool: Pool

  constructor (pool: Pool) {
    this.pool = pool
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

  /** Readiness: can a connection be had and answer within the deadline, is the pool saturated (lib/observe/health.ts). */
  health (options?: HealthOptions): Promise<HealthReport> {
    return checkHealth(this.pool, () => this.stats(), options)
  }

  /** The pool's SQLAlchemy status line. */
  status (): string {
    return this.pool.status()
  }
}
