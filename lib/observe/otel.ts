/**
 * OpenTelemetry semantic-convention pool metrics (`db.client.connection.*`). `@opentelemetry/api`
 * is an optional peer dependency, required here only when metrics are asked for, never by the
 * package's main import. Observable instruments read the pool when the SDK collects; the
 * histograms and the timeout counter are fed by the diagnostics channels (see recorder.ts), which
 * are subscribed only while some pool is instrumented.
 */
import type * as OtelApi from '@opentelemetry/api'
import { InvalidOptionError } from '../errors'
import type { Pool } from '../pool/base-pool'
import { readPoolGauges } from './pool-gauges'
import { attachSink, DURATION_BUCKETS } from './recorder'

/** The part of an OpenTelemetry MeterProvider used here (kept structural so our types don't need the package). */
export interface MeterProviderLike {
  getMeter: (name: string, version?: string, options?: object) => unknown
}

const METER_NAME = 'fastify-db-session'
/** Semantic conventions attribute names. */
const POOL_NAME = 'db.client.connection.pool.name'
const STATE = 'db.client.connection.state'

let api: typeof OtelApi | undefined

/** The API module, or undefined when it is not installed. */
function loadOtelApi (): typeof OtelApi | undefined {
  if (api !== undefined) return api
  try {
    // Lazy on purpose: an optional peer, loaded only when metrics are on.
    api = require('@opentelemetry/api') as typeof OtelApi
  } catch (err) {
    if ((err as { code?: unknown }).code !== 'MODULE_NOT_FOUND') throw err
    return undefined
  }
  return api
}

/** Where @opentelemetry/api 1.x keeps its global registrations (its `global-utils`). */
const OTEL_GLOBAL = Symbol.for('opentelemetry.js.api.1')

/**
 * A MeterProvider was registered globally (the API's own default is a no-op one). Looks at the
 * API's global slot first, so with no SDK set up the API is not even loaded.
 */
export function hasGlobalMeterProvider (): boolean {
  const slot = (globalThis as Record<symbol, { metrics?: unknown } | undefined>)[OTEL_GLOBAL]
  if (slot?.metrics === undefined) return false
  const otel = loadOtelApi()
  if (otel === undefined) return false
  const meter = otel.metrics.getMeterProvider().getMeter(METER_NAME)
  return meter.constructor !== otel.createNoopMeter().constructor
}

interface Instruments {
  meter: OtelApi.Meter
  count: OtelApi.ObservableUpDownCounter
  max: OtelApi.ObservableUpDownCounter
  idleMax: OtelApi.ObservableUpDownCounter
  pending: OtelApi.ObservableUpDownCounter
  timeouts: OtelApi.Counter
  createTime: OtelApi.Histogram
  waitTime: OtelApi.Histogram
  useTime: OtelApi.Histogram
  /** Pool names already reporting through this provider (attributes must not collide). */
  names: Set<string>
}

/** One set of instruments per meter provider, shared by every pool reporting through it. */
const byProvider = new WeakMap<object, Instruments>()

function instrumentsFor (provider: OtelApi.MeterProvider): Instruments {
  let inst = byProvider.get(provider)
  if (inst !== undefined) return inst
  const meter = provider.getMeter(METER_NAME)
  const histogram = (name: string, description: string): OtelApi.Histogram =>
    meter.createHistogram(name, { unit: 's', description, advice: { explicitBucketBoundaries: [...DURATION_BUCKETS] } })
  inst = {
    meter,
    count: meter.createObservableUpDownCounter('db.client.connection.count', { unit: '{connection}', description: 'The number of connections that are currently in state described by the state attribute' }),
    max: meter.createObservableUpDownCounter('db.client.connection.max', { unit: '{connection}', description: 'The maximum number of open connections allowed' }),
    idleMax: meter.createObservableUpDownCounter('db.client.connection.idle.max', { unit: '{connection}', description: 'The maximum number of idle open connections allowed' }),
    pending: meter.createObservableUpDownCounter('db.client.connection.pending_requests', { unit: '{request}', description: 'The number of current pending requests for an open connection' }),
    timeouts: meter.createCounter('db.client.connection.timeouts', { unit: '{timeout}', description: 'The number of connection timeouts that have occurred trying to obtain a connection from the pool' }),
    createTime: histogram('db.client.connection.create_time', 'The time it took to create a new connection'),
    waitTime: histogram('db.client.connection.wait_time', 'The time it took to obtain an open connection from the pool'),
    useTime: histogram('db.client.connection.use_time', 'The time between borrowing a connection and returning it to the pool'),
    names: new Set()
  }
  byProvider.set(provider, inst)
  return inst
}

/**
 * Reports `pool` through `provider` (default: the global one) under `poolName`. Returns the
 * function that stops it.
 */
export function recordOtelMetrics (pool: Pool, poolName: string, provider?: MeterProviderLike): () => void {
  const otel = loadOtelApi()
  if (otel === undefined) {
    throw new InvalidOptionError('openTelemetry', 'Invalid option openTelemetry: OpenTelemetry metrics need the optional peer dependency @opentelemetry/api; install it (npm i @opentelemetry/api) or leave the option off')
  }
  const inst = instrumentsFor((provider ?? otel.metrics.getMeterProvider()) as OtelApi.MeterProvider)
  if (inst.names.has(poolName)) {
    throw new InvalidOptionError('poolName', `Invalid option poolName: a pool named ${JSON.stringify(poolName)} already reports OpenTelemetry metrics; give each pool its own poolName`)
  }
  inst.names.add(poolName)
  const attrs = { [POOL_NAME]: poolName }
  const idleAttrs = { [POOL_NAME]: poolName, [STATE]: 'idle' }
  const usedAttrs = { [POOL_NAME]: poolName, [STATE]: 'used' }
  const observe: OtelApi.BatchObservableCallback = (result) => {
    const g = readPoolGauges(pool)
    result.observe(inst.count, g.idle, idleAttrs)
    result.observe(inst.count, g.used, usedAttrs)
    result.observe(inst.pending, g.pending, attrs)
    if (g.max !== undefined) result.observe(inst.max, g.max, attrs)
    if (g.idleMax !== undefined) result.observe(inst.idleMax, g.idleMax, attrs)
  }
  const observables = [inst.count, inst.max, inst.idleMax, inst.pending]
  inst.meter.addBatchObservableCallback(observe, observables)
  const detach = attachSink(pool, {
    createTime: (s) => inst.createTime.record(s, attrs),
    waitTime: (s) => inst.waitTime.record(s, attrs),
    useTime: (s) => inst.useTime.record(s, attrs),
    timeout: () => inst.timeouts.add(1, attrs)
  })
  let stopped = false
  return () => {
    if (stopped) return
    stopped = true
    detach()
    inst.meter.removeBatchObservableCallback(observe, observables)
    inst.names.delete(poolName)
  }
}
