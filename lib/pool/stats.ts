/**
 * A plain snapshot of a pool's state, safe to log (no connection details, no credentials).
 * Gauges describe this instant; counters run since the pool was created or last disposed.
 */
export interface PoolStats {
  /** Configured `poolSize`: idle connections kept. */
  size: number
  /** Idle slots in the pool (SQLAlchemy's `checkedin()`; includes slots whose connection was dropped). */
  checkedIn: number
  /** Connections handed out and not yet returned (SQLAlchemy's `checkedout()`). */
  checkedOut: number
  /** SQLAlchemy's `overflow()`: existing slots minus `poolSize`, negative below `poolSize`. */
  overflow: number
  /** Checkouts queued at the limit, waiting for a connection. */
  waiting: number
  /** Counter: database connections opened. */
  connects: number
  /** Counter: connection attempts that failed. */
  connectErrors: number
  /** Counter: checkouts served. */
  checkouts: number
  /** Counter: checkouts that gave up with PoolTimeoutError. */
  timeouts: number
  /** Counter: connections discarded because they were broken, invalidated or failed a reset/ping. */
  invalidations: number
  /** Counter: connections replaced at checkout for age (`recycle`) or pool-wide invalidation. */
  recycles: number
  /** Counter: checkouts abandoned by their caller (AbortSignal) while waiting or connecting; none got a connection. */
  abandoned: number
  /** Counter: checkouts refused at once by `failFast` because the queue ahead could not be served in time (also counted in `timeouts`). */
  refused: number
}

export type PoolCounters = Pick<PoolStats, 'connects' | 'connectErrors' | 'checkouts' | 'timeouts' | 'invalidations' | 'recycles' | 'abandoned' | 'refused'>

export function newCounters (): PoolCounters {
  return { connects: 0, connectErrors: 0, checkouts: 0, timeouts: 0, invalidations: 0, recycles: 0, abandoned: 0, refused: 0 }
}
