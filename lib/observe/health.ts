/**
 * `app.db.health()`: a readiness snapshot. Ready means a connection could be had and answered a
 * `SELECT 1` within the deadline, and the pool is not saturated. A saturated pool is reported at
 * once, without queueing one more checkout behind the requests already waiting; a dead or hung
 * server is reported at the deadline at the latest, never later. The report carries codes and
 * numbers only: no server text, no connection details.
 */
import { performance } from 'node:perf_hooks'
import { DbError } from '../errors'
import type { Pool } from '../pool/base-pool'
import { duration, integer } from '../pool/options'
import type { PooledConnection } from '../pool/pooled-connection'
import type { PoolStats } from '../pool/stats'

export interface HealthOptions {
  /** Deadline for taking a connection and running `SELECT 1`, ms (default 2000). */
  timeout?: number
  /** Checkouts allowed to wait before the pool counts as saturated (default 0: any wait). */
  maxWaiting?: number
}

export type HealthStatus = 'ok' | 'saturated' | 'unavailable' | 'timeout' | 'closed'

export interface HealthReport {
  /** Send traffic here: the database answered within the deadline and the pool is not saturated. */
  ready: boolean
  status: HealthStatus
  /** Checkouts are waiting (more than `maxWaiting`). */
  saturated: boolean
  /** Time to take a connection and run `SELECT 1`, ms; the time until it failed or the deadline otherwise (0 when not tried). */
  latencyMs: number
  /** Why the check failed: `timeout`, or the error's `FST_DB_*` code. */
  error?: string
  /** The driver's code behind that error when there is one (ECONNREFUSED, ER_ACCESS_DENIED_ERROR…). */
  errorCause?: string
  /** The pool's stats after the check (with `replicas` when the app has replicas). */
  pool: PoolStats
  /** The replicas' stats, as `app.db.stats().replicas` reports them, when there are any. */
  replicas?: unknown[]
}

export const DEFAULT_HEALTH_TIMEOUT = 2000

type Stats = () => PoolStats & { replicas?: unknown }

export async function checkHealth (pool: Pool, stats: Stats, options: HealthOptions = {}): Promise<HealthReport> {
  const timeout = options.timeout === undefined ? DEFAULT_HEALTH_TIMEOUT : duration('health.timeout', options.timeout, 1)
  const maxWaiting = options.maxWaiting === undefined ? 0 : integer('health.maxWaiting', options.maxWaiting, 0)
  if (pool.closed) return report('closed', false, 0, undefined, stats())
  if (pool.stats().waiting > maxWaiting) return report('saturated', true, 0, undefined, stats())
  const started = performance.now()
  const outcome = await probe(pool, timeout)
  const latencyMs = Math.round((performance.now() - started) * 10) / 10
  const after = stats()
  const saturated = after.waiting > maxWaiting
  if (outcome === true) return report(saturated ? 'saturated' : 'ok', saturated, latencyMs, undefined, after)
  if (outcome === 'timeout') return report('timeout', saturated, latencyMs, 'timeout', after)
  const r = report('unavailable', saturated, latencyMs, outcome instanceof DbError ? outcome.code : 'UNKNOWN', after)
  const cause = (outcome as { cause?: { code?: unknown } } | null)?.cause?.code
  if (typeof cause === 'string' || typeof cause === 'number') r.errorCause = String(cause)
  return r
}

function report (status: HealthStatus, saturated: boolean, latencyMs: number, error: string | undefined, s: PoolStats & { replicas?: unknown }): HealthReport {
  const { replicas, ...pool } = s
  return {
    ready: status === 'ok',
    status,
    saturated,
    latencyMs,
    ...(error === undefined ? {} : { error }),
    pool,
    ...(Array.isArray(replicas) ? { replicas } : {})
  }
}

/**
 * true, 'timeout', or the error. At the deadline the checkout is abandoned (it leaves the pool's
 * queue at once, and a connection still being opened for it goes back to the pool) and a
 * statement still running is interrupted by the pool, so a failed check leaves nothing behind.
 */
function probe (pool: Pool, timeout: number): Promise<true | 'timeout' | unknown> {
  return new Promise((resolve) => {
    const abandon = new AbortController()
    let conn: PooledConnection | undefined
    let settled = false
    const timer = setTimeout(() => {
      settled = true
      abandon.abort(new Error('health check deadline'))
      void conn?.close()
      resolve('timeout')
    }, timeout)
    timer.unref()
    const finish = (result: true | unknown): void => {
      if (settled) return
      settled = true
      clearTimeout(timer)
      resolve(result)
    }
    pool.connect({ signal: abandon.signal }).then(async (c) => {
      conn = c
      try {
        await c.query('SELECT 1')
        finish(true)
      } finally {
        void c.close()
      }
    }).catch(finish)
  })
}
