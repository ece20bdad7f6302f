/**
 * Feeds the metric recorders (OpenTelemetry, Prometheus) from the diagnostics channels. It
 * subscribes while at least one pool is instrumented and unsubscribes when the last one leaves, so
 * with metrics off every `hasSubscribers` check in the pool stays false and the hot path does nothing.
 */
import dc from 'node:diagnostics_channel'
import type { Pool } from '../pool/base-pool'
import { POOL_CHANNELS, type CheckinMessage, type CheckoutMessage, type ConnectMessage, type PoolMessage } from './channels'

/** Histogram buckets in seconds: from a fast checkout (about a millisecond) to a pool timeout (tens of seconds). */
export const DURATION_BUCKETS: readonly number[] = Object.freeze([0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1, 5, 10, 30, 60])

/** What a recorder does with one pool's events; durations in seconds, as the conventions say. */
export interface PoolMetricsSink {
  createTime: (seconds: number) => void
  waitTime: (seconds: number) => void
  useTime: (seconds: number) => void
  timeout: () => void
}

const sinks = new Map<Pool, Set<PoolMetricsSink>>()

function each (message: PoolMessage, fn: (sink: PoolMetricsSink) => void): void {
  const set = sinks.get(message.pool)
  if (set !== undefined) for (const sink of set) fn(sink)
}

const onConnect = (m: unknown): void => {
  const msg = m as ConnectMessage
  each(msg, (s) => s.createTime(msg.createMs / 1000))
}
const onCheckout = (m: unknown): void => {
  const msg = m as CheckoutMessage
  each(msg, (s) => s.waitTime(msg.waitMs / 1000))
}
const onCheckin = (m: unknown): void => {
  const msg = m as CheckinMessage
  each(msg, (s) => s.useTime(msg.useMs / 1000))
}
const onTimeout = (m: unknown): void => {
  each(m as PoolMessage, (s) => s.timeout())
}

const SUBSCRIPTIONS: ReadonlyArray<[string, (m: unknown) => void]> = [
  [POOL_CHANNELS.connect, onConnect],
  [POOL_CHANNELS.checkout, onCheckout],
  [POOL_CHANNELS.checkin, onCheckin],
  [POOL_CHANNELS.timeout, onTimeout]
]

/** Sends this pool's events to `sink` until the returned function is called (idempotent). */
export function attachSink (pool: Pool, sink: PoolMetricsSink): () => void {
  if (sinks.size === 0) for (const [name, fn] of SUBSCRIPTIONS) dc.subscribe(name, fn)
  let set = sinks.get(pool)
  if (set === undefined) {
    set = new Set()
    sinks.set(pool, set)
  }
  set.add(sink)
  let attached = true
  return () => {
    if (!attached) return
    attached = false
    const s = sinks.get(pool)
    s?.delete(sink)
    if (s?.size === 0) sinks.delete(pool)
    if (sinks.size === 0) for (const [name, fn] of SUBSCRIPTIONS) dc.unsubscribe(name, fn)
  }
}
