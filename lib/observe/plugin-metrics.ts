/**
 * What the plugin does for observability at registration: name the pool (for metrics and channel
 * messages) and turn on the metrics its options ask for. OpenTelemetry defaults to "auto": on when
 * `@opentelemetry/api` is installed and a MeterProvider is registered globally by then (as
 * OpenTelemetry asks of every instrumentation); with none, nothing subscribes and the hot path
 * stays as it is.
 */
import type { Pool } from '../pool/base-pool'
import { instrumentPool, type MeterProviderLike, type PrometheusRegistry } from './metrics'
import { hasGlobalMeterProvider } from './otel'
import { defaultPoolName, poolNameOf, setPoolName } from './pool-name'

export interface ObserveOptions {
  poolName: string | undefined
  openTelemetry: 'auto' | boolean | { meterProvider: MeterProviderLike }
  prometheus: boolean | PrometheusRegistry
}

/**
 * Names the pool (option `poolName`, else the registration's `name`, else `host:port/database` of
 * the connection) and starts its metrics. Returns the function that stops them.
 */
export function observePool (pool: Pool, options: ObserveOptions, registrationName: string | undefined, connection: unknown): () => void {
  const poolName = options.poolName ?? registrationName ?? defaultPoolName(connection) ?? poolNameOf(pool) ?? 'default'
  setPoolName(pool, poolName)
  const openTelemetry = options.openTelemetry === 'auto' ? hasGlobalMeterProvider() : options.openTelemetry
  if (openTelemetry === false && options.prometheus === false) return noop
  return instrumentPool(pool, { poolName, openTelemetry, prometheus: options.prometheus }).close
}

function noop (): void {}
