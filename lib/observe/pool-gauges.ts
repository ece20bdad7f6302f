/**
 * What the observable pool metrics report, read from a pool at collection time: connections idle
 * and in use, checkouts waiting, and the limits where the pool kind has them.
 */
import type { Pool } from '../pool/base-pool'
import { AssertionPool } from '../pool/assertion-pool'
import { NullPool } from '../pool/null-pool'
import { QueuePool } from '../pool/queue-pool'
import { StaticPool } from '../pool/static-pool'

export interface PoolGauges {
  idle: number
  used: number
  /** Checkouts waiting for a connection (`db.client.connection.pending_requests`). */
  pending: number
  /** Most connections open at once; undefined when unbounded. */
  max: number | undefined
  /** Most idle connections kept; undefined when unbounded. */
  idleMax: number | undefined
}

export function readPoolGauges (pool: Pool): PoolGauges {
  const stats = pool.stats()
  const gauges: PoolGauges = { idle: stats.checkedIn, used: stats.checkedOut, pending: stats.waiting, max: undefined, idleMax: undefined }
  if (pool instanceof QueuePool) {
    const { poolSize, maxOverflow } = pool.options
    // poolSize 0 means no limit at all (maxOverflow is then ignored).
    if (poolSize > 0) {
      gauges.idleMax = poolSize
      if (maxOverflow >= 0) gauges.max = poolSize + maxOverflow
    }
  } else if (pool instanceof StaticPool || pool instanceof AssertionPool) {
    // One connection; StaticPool shares it between holders, which still uses one connection.
    gauges.used = Math.min(stats.checkedOut, 1)
    gauges.max = 1
    gauges.idleMax = 1
  } else if (pool instanceof NullPool) {
    gauges.idleMax = 0
  }
  return gauges
}
