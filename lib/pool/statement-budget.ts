/**
 * The prepared-statement budget. mysql2 caches every statement `execute()` prepares, per
 * connection (an LRU of `maxPreparedStatements`, 16,000 by default, whose evicted statements it
 * closes on the server with COM_STMT_CLOSE). The server caps prepared statements across all its
 * clients (`max_prepared_stmt_count`, 16,382 by default) and past it every PREPARE fails with
 * ER_MAX_PREPARED_STMT_COUNT_REACHED (node-mysql2#702): 15 pooled connections × a few thousand
 * distinct statements gets there. Kept a pure function of the numbers so whoever reads the server's
 * variables (the plugin at first connect, the cluster code per node) can call it.
 */

/** The per-connection statement cache the plugin sets unless told otherwise. */
export const DEFAULT_MAX_PREPARED_STATEMENTS = 128

export interface StatementBudget {
  /** Most connections the pool can hold at once (Infinity when unbounded). */
  poolMax: number
  /** Prepared statements cached per connection. */
  perConnection: number
  /** The server's max_prepared_stmt_count. */
  serverMax: number
}

/** The pool's connection limit: poolSize + maxOverflow, unbounded for poolSize 0 or maxOverflow -1. */
export function poolConnectionLimit (poolSize: number, maxOverflow: number): number {
  return poolSize === 0 || maxOverflow === -1 ? Infinity : poolSize + maxOverflow
}

/** A warning when the pool could hold more prepared statements than the server allows, else undefined. */
export function statementBudgetWarning ({ poolMax, perConnection, serverMax }: StatementBudget): string | undefined {
  const worst = poolMax * perConnection
  if (worst <= serverMax) return undefined
  const pool = Number.isFinite(poolMax) ? `${poolMax} connections` : 'an unbounded number of connections'
  return `Prepared statement budget: the pool may hold ${pool} × ${perConnection} cached prepared statements ` +
    `(${Number.isFinite(worst) ? worst : 'unbounded'}), more than the server's max_prepared_stmt_count (${serverMax}), ` +
    'which all its clients share; lower maxPreparedStatements or the pool size, or raise max_prepared_stmt_count'
}
