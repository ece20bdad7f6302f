/**
 * What the plugin does for observability at registration: name the pool (for metrics and channel
 * messages) and turn on the metrics its options ask for. OpenTelemetry defaults to "auto": on when
 * `@opentelemetry/api` is installed and a MeterProvider is registered globally by then (as
 * OpenTelemetry asks of every instrumentation); with none, nothing subscribes and the hot path
 * stays as it is.
 */
import { InvalidOptionError } from '../errors'
import type { Pool } from '../pool/base-pool'
import type { PoolLogger } from '../pool/logger'
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
 * the connection) and starts its metrics. Returns the function that stops them. Metrics that were
 * asked for fail loudly (a taken name, a missing package); the automatic OpenTelemetry ones only
 * warn, since two apps in one process may well reach the same database under the same name.
 */
export function observePool (pool: Pool, options: ObserveOptions, registrationName: string | undefined, connection: unknown, log: PoolLogger): () => void {
  const poolName = options.poolName ?? registrationName ?? defaultPoolName(connection) ?? poolNameOf(pool) ?? 'default'
  setPoolName(pool, poolName)
  const stops: Array<() => void> = []
  const stopAll = (): void => { for (const stop of stops.splice(0)) stop() }
  try {
    if (options.prometheus !== false) stops.push(instrumentPool(pool, { poolName, openTelemetry: false, prometheus: options.prometheus }).close)
    if (options.openTelemetry === 'auto') {
      if (hasGlobalMeterProvider()) stops.push(autoOpenTelemetry(pool, poolName, log))
    } else if (options.openTelemetry !== false) {
      stops.push(instrumentPool(pool, { poolName, openTelemetry: options.openTelemetry }).close)
    }
  } catch (err) {
    stopAll()
    throw err
  }
  return stops.length === 0 ? noop : stopAll
}

function autoOpenTelemetry (pool: Pool, poolName: string, log: PoolLogger): () => void {
  try {
    return instrumentPool(pool, { poolName }).close
  } catch (err) {
    if (!(err instanceof InvalidOptionError)) throw err
    log.warn({ poolName }, `No OpenTelemetry metrics for this pool: another pool already reports as ${JSON.stringify(poolName)}; give it its own poolName`)
    return noop
  }
}

function noop (): void {}
