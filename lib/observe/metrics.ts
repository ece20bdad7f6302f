/**
 * `instrumentPool(pool, options)`: OpenTelemetry and/or Prometheus pool metrics for any pool, with
 * or without Fastify (the plugin calls it for the pools it builds). The optional peers are
 * required only here, when asked for.
 */
import { InvalidOptionError } from '../errors'
import type { Pool } from '../pool/base-pool'
import { recordOtelMetrics, type MeterProviderLike } from './otel'
import { poolNameOf, setPoolName } from './pool-name'
import { defaultPrometheusRegistry, recordPrometheusMetrics, type PrometheusRegistry } from './prometheus'

export type { MeterProviderLike, PrometheusRegistry }

export interface InstrumentPoolOptions {
  /** `db.client.connection.pool.name` / `pool_name`; default: the name the plugin gave the pool, else `'default'`. */
  poolName?: string
  /** OpenTelemetry metrics (default true): through the global MeterProvider, or `{ meterProvider }`. */
  openTelemetry?: boolean | { meterProvider: MeterProviderLike }
  /** Prometheus metrics (default false): `true` = prom-client's default registry, or a Registry. */
  prometheus?: boolean | PrometheusRegistry
}

export interface PoolInstrumentation {
  readonly poolName: string
  /** Stops reporting this pool (its series leave the registries). Idempotent. */
  close: () => void
}

export function instrumentPool (pool: Pool, options: InstrumentPoolOptions = {}): PoolInstrumentation {
  const poolName = options.poolName ?? poolNameOf(pool) ?? 'default'
  if (typeof poolName !== 'string' || poolName === '') {
    throw new InvalidOptionError('poolName', `Invalid option poolName: expected a non-empty string, got ${typeof poolName}`)
  }
  const stops: Array<() => void> = []
  try {
    const otel = options.openTelemetry ?? true
    if (otel !== false) stops.push(recordOtelMetrics(pool, poolName, otel === true ? undefined : otel.meterProvider))
    const prom = options.prometheus ?? false
    if (prom !== false) stops.push(recordPrometheusMetrics(pool, poolName, prom === true ? defaultPrometheusRegistry() : prom))
  } catch (err) {
    for (const stop of stops) stop()
    throw err
  }
  setPoolName(pool, poolName)
  return {
    poolName,
    close () {
      for (const stop of stops.splice(0)) stop()
    }
  }
}
