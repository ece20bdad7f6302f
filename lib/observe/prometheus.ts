/**
 * The same pool metrics in Prometheus naming, on a prom-client registry (option `prometheus`).
 * prom-client is an optional peer dependency, required here only when the option is on. Several
 * pools share one set of metrics per registry, told apart by the `pool_name` label; the gauges read
 * every pool when the registry is scraped, the histograms and counter are fed by the diagnostics
 * channels. When the last pool leaves a registry its metrics are removed from it, so an app built
 * again (tests, hot reload) can register them again.
 */
import type * as PromClient from 'prom-client'
import { InvalidOptionError } from '../errors'
import type { Pool } from '../pool/base-pool'
import { readPoolGauges } from './pool-gauges'
import { attachSink, DURATION_BUCKETS } from './recorder'

/** The part of a prom-client Registry used here (structural so our types don't need the package). */
export interface PrometheusRegistry {
  registerMetric: (metric: never) => void
  getSingleMetric: (name: string) => unknown
  removeSingleMetric: (name: string) => void
}

/** The metric names, for dashboards. */
export const PROMETHEUS_METRICS = Object.freeze({
  count: 'db_client_connection_count',
  max: 'db_client_connection_max',
  idleMax: 'db_client_connection_idle_max',
  pending: 'db_client_connection_pending_requests',
  timeouts: 'db_client_connection_timeouts_total',
  createTime: 'db_client_connection_create_time_seconds',
  waitTime: 'db_client_connection_wait_time_seconds',
  useTime: 'db_client_connection_use_time_seconds'
} as const)

let prom: typeof PromClient | undefined

function loadPromClient (): typeof PromClient {
  if (prom !== undefined) return prom
  try {
    // Lazy on purpose: an optional peer, loaded only when the option is on.
    prom = require('prom-client') as typeof PromClient
  } catch (err) {
    if ((err as { code?: unknown }).code !== 'MODULE_NOT_FOUND') throw err
    throw new InvalidOptionError('prometheus', 'Invalid option prometheus: Prometheus metrics need the optional peer dependency prom-client; install it (npm i prom-client) or leave the option off')
  }
  return prom
}

/** prom-client's default registry (`prometheus: true`). */
export function defaultPrometheusRegistry (): PrometheusRegistry {
  return loadPromClient().register as unknown as PrometheusRegistry
}

interface RegistryMetrics {
  pools: Map<Pool, string>
  histograms: Array<PromClient.Histogram<'pool_name'>>
  timeouts: PromClient.Counter<'pool_name'>
  createTime: PromClient.Histogram<'pool_name'>
  waitTime: PromClient.Histogram<'pool_name'>
  useTime: PromClient.Histogram<'pool_name'>
}

const byRegistry = new WeakMap<object, RegistryMetrics>()

function metricsFor (registry: PrometheusRegistry): RegistryMetrics {
  let m = byRegistry.get(registry)
  if (m !== undefined) return m
  const client = loadPromClient()
  const registers = [registry as unknown as PromClient.Registry]
  const pools = new Map<Pool, string>()
  // Gauges are filled from the pools at scrape time.
  const gauge = (name: string, help: string, fill: (set: (labels: Record<string, string>, value: number) => void) => void, state = false): void => {
    // eslint-disable-next-line no-new
    new client.Gauge<string>({
      name,
      help,
      labelNames: state ? ['pool_name', 'state'] : ['pool_name'],
      registers,
      collect () {
        this.reset()
        fill((labels, value) => this.set(labels, value))
      }
    })
  }
  gauge(PROMETHEUS_METRICS.count, 'The number of connections that are currently in the state described by the state label', (set) => {
    for (const [pool, name] of pools) {
      const g = readPoolGauges(pool)
      set({ pool_name: name, state: 'idle' }, g.idle)
      set({ pool_name: name, state: 'used' }, g.used)
    }
  }, true)
  const perPool = (pick: (g: ReturnType<typeof readPoolGauges>) => number | undefined) => (set: (labels: Record<string, string>, value: number) => void): void => {
    for (const [pool, name] of pools) {
      const value = pick(readPoolGauges(pool))
      if (value !== undefined) set({ pool_name: name }, value)
    }
  }
  gauge(PROMETHEUS_METRICS.max, 'The maximum number of open connections allowed', perPool((g) => g.max))
  gauge(PROMETHEUS_METRICS.idleMax, 'The maximum number of idle open connections allowed', perPool((g) => g.idleMax))
  gauge(PROMETHEUS_METRICS.pending, 'The number of current pending requests for an open connection', perPool((g) => g.pending))
  const histogram = (name: string, help: string): PromClient.Histogram<'pool_name'> =>
    new client.Histogram({ name, help, labelNames: ['pool_name'], buckets: [...DURATION_BUCKETS], registers })
  const createTime = histogram(PROMETHEUS_METRICS.createTime, 'The time it took to create a new connection')
  const waitTime = histogram(PROMETHEUS_METRICS.waitTime, 'The time it took to obtain an open connection from the pool')
  const useTime = histogram(PROMETHEUS_METRICS.useTime, 'The time between borrowing a connection and returning it to the pool')
  const timeouts = new client.Counter({
    name: PROMETHEUS_METRICS.timeouts,
    help: 'The number of connection timeouts that have occurred trying to obtain a connection from the pool',
    labelNames: ['pool_name'],
    registers
  })
  m = { pools, histograms: [createTime, waitTime, useTime], timeouts, createTime, waitTime, useTime }
  byRegistry.set(registry, m)
  return m
}

/** Reports `pool` on `registry` under `poolName`. Returns the function that stops it. */
export function recordPrometheusMetrics (pool: Pool, poolName: string, registry: PrometheusRegistry): () => void {
  const m = metricsFor(registry)
  for (const name of m.pools.values()) {
    if (name === poolName) {
      throw new InvalidOptionError('poolName', `Invalid option poolName: a pool named ${JSON.stringify(poolName)} is already on this Prometheus registry; give each pool its own poolName`)
    }
  }
  m.pools.set(pool, poolName)
  const labels = { pool_name: poolName }
  // Counters start at 0 for every pool, so a rate() sees the first timeout.
  m.timeouts.inc(labels, 0)
  const detach = attachSink(pool, {
    createTime: (s) => m.createTime.observe(labels, s),
    waitTime: (s) => m.waitTime.observe(labels, s),
    useTime: (s) => m.useTime.observe(labels, s),
    timeout: () => m.timeouts.inc(labels)
  })
  let stopped = false
  return () => {
    if (stopped) return
    stopped = true
    detach()
    m.pools.delete(pool)
    for (const h of m.histograms) h.remove(labels)
    m.timeouts.remove(labels)
    if (m.pools.size === 0) {
      for (const name of Object.values(PROMETHEUS_METRICS)) registry.removeSingleMetric(name)
      byRegistry.delete(registry)
    }
  }
}
