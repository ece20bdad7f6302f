/**
 * `app.db`: the pool, plus sessions and one-off statements for work outside a request
 * (startup migrations, jobs, health checks).
 */
import type { ExecuteValues, FieldPacket, QueryOptions, QueryResult, QueryValues } from 'mysql2'
import type { Pool } from './pool/base-pool'
import type { PoolStats } from './pool/stats'
import { Session, type SessionOptions } from './session'

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
  async query<T extends QueryResult = QueryResult> (sql: Sql, values?: QueryValues): Promise<[T, FieldPacket[]]> {
    const session = new Session(this.pool)
    try {
      return await session.query<T>(sql, values)
    } finally {
      await session.close()
    }
  }

  /** Checkout, one prepared statement, return. */
  async execute<T extends QueryResult = QueryResult> (sql: Sql, values?: ExecuteValues): Promise<[T, FieldPacket[]]> {
    const session = new Session(this.pool)
    try {
      return await session.execute<T>(sql, values)
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
