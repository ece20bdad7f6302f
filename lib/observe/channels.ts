/**
 * Named `node:diagnostics_channel` channels for pool events and session lifecycle, the way undici
 * and mysql2 let APM tools hook in without a dependency on them. Every publish site in the pool and
 * the session is guarded by `channel.hasSubscribers` (a prototype getter Node swaps on the first
 * subscriber), so nothing is built or sent when nobody listens: the hot path stays free.
 *
 * Subscribe with `diagnostics_channel.subscribe(POOL_CHANNELS.checkout, (message) => ...)`. A
 * subscriber that throws is reported by Node as an uncaught exception: keep subscribers safe.
 * Durations are milliseconds (performance.now() differences).
 */
import dc from 'node:diagnostics_channel'
import { performance } from 'node:perf_hooks'
import type { Pool } from '../pool/base-pool'
import type { ConnectionRecord } from '../pool/connection-record'
import type { PoolStats } from '../pool/stats'
import type { Session } from '../session/session'
import { poolNameOf } from './pool-name'

/** The channel names; stable, part of the public API. */
export const POOL_CHANNELS = Object.freeze({
  /** A new database connection was opened. */
  connect: 'fastify-db-session:pool:connect',
  /** Opening a database connection failed (or passed its connect deadline). */
  connectError: 'fastify-db-session:pool:connect-error',
  /** A connection was handed out. */
  checkout: 'fastify-db-session:pool:checkout',
  /** The holder gave the connection back (close() or invalidate()), before the reset on return. */
  checkin: 'fastify-db-session:pool:checkin',
  /** A checkout gave up at the limit with PoolTimeoutError. */
  timeout: 'fastify-db-session:pool:timeout',
  /** A connection is being discarded (broken, invalidated, failed reset or ping). */
  invalidate: 'fastify-db-session:pool:invalidate',
  /** Leak detection: a connection was held longer than `leakDetectionThreshold`. */
  leak: 'fastify-db-session:pool:leak'
} as const)

export const SESSION_CHANNELS = Object.freeze({
  /** A session took its connection (at its first statement). */
  acquired: 'fastify-db-session:session:acquired',
  /** A session that held a connection was closed and is giving it back. */
  released: 'fastify-db-session:session:released'
} as const)

/** Fields every pool message carries. */
export interface PoolMessage {
  pool: Pool
  /** The pool's name (option `poolName`, the registration's `name`, or `host:port/database`); undefined for an unnamed standalone pool. */
  poolName: string | undefined
}
export interface ConnectMessage extends PoolMessage {
  connectionId: number
  /** Time to open the connection (handshake included), ms. */
  createMs: number
}
export interface ConnectErrorMessage extends PoolMessage {
  error: unknown
  /** Time until the attempt failed, ms. */
  createMs: number
}
export interface CheckoutMessage extends PoolMessage {
  connectionId: number
  /** From the connect() call to the hand-out (queueing, connecting, pre-ping), ms. */
  waitMs: number
}
export interface CheckinMessage extends PoolMessage {
  connectionId: number
  /** From the hand-out to the return, ms. */
  useMs: number
  /** The connection was discarded instead of returned. */
  invalidated: boolean
}
export interface TimeoutMessage extends PoolMessage {
  /** How long the checkout waited, ms (the pool's `timeout`, give or take the timer). */
  waitMs: number
  stats: PoolStats
}
export interface InvalidateMessage extends PoolMessage {
  connectionId: number
  error: unknown
}
export interface LeakMessage extends PoolMessage {
  connectionId: number
  heldMs: number
  threshold: number
  /** Where the connection was checked out. */
  stack: string | undefined
}
export interface SessionAcquiredMessage extends PoolMessage {
  session: Session
  /** Fastify's request id for a request's session; undefined outside a request. */
  requestId: string | undefined
  connectionId: number
  waitMs: number
}
export interface SessionReleasedMessage extends PoolMessage {
  session: Session
  requestId: string | undefined
  /** How long the session held its connection in total, ms. */
  heldMs: number
  queries: number
}

/** A channel whose publish() only accepts its own message type. */
export interface TypedChannel<M> {
  readonly name: string | symbol
  readonly hasSubscribers: boolean
  publish: (message: M) => void
}

function typed<M> (name: string): TypedChannel<M> {
  return dc.channel(name) as unknown as TypedChannel<M>
}

/** The channel objects (held here for the process lifetime, so Node never collects them). */
export const poolChannels = {
  connect: typed<ConnectMessage>(POOL_CHANNELS.connect),
  connectError: typed<ConnectErrorMessage>(POOL_CHANNELS.connectError),
  checkout: typed<CheckoutMessage>(POOL_CHANNELS.checkout),
  checkin: typed<CheckinMessage>(POOL_CHANNELS.checkin),
  timeout: typed<TimeoutMessage>(POOL_CHANNELS.timeout),
  invalidate: typed<InvalidateMessage>(POOL_CHANNELS.invalidate),
  leak: typed<LeakMessage>(POOL_CHANNELS.leak)
}

export const sessionChannels = {
  acquired: typed<SessionAcquiredMessage>(SESSION_CHANNELS.acquired),
  released: typed<SessionReleasedMessage>(SESSION_CHANNELS.released)
}

/** Someone needs a real checkout time (the pool skips the clock otherwise). */
export function checkoutsObserved (): boolean {
  return poolChannels.checkout.hasSubscribers || poolChannels.checkin.hasSubscribers
}

// The publish helpers below are called only behind a `hasSubscribers` check at the call site.

export function publishConnect (pool: Pool, record: ConnectionRecord, createMs: number): void {
  poolChannels.connect.publish({ pool, poolName: poolNameOf(pool), connectionId: record.id, createMs })
}

export function publishConnectError (pool: Pool, error: unknown, createMs: number): void {
  poolChannels.connectError.publish({ pool, poolName: poolNameOf(pool), error, createMs })
}

export function publishCheckout (pool: Pool, record: ConnectionRecord, now: number): void {
  const waitMs = record.waitSince === 0 ? 0 : now - record.waitSince
  poolChannels.checkout.publish({ pool, poolName: poolNameOf(pool), connectionId: record.id, waitMs })
}

export function publishCheckin (pool: Pool, record: ConnectionRecord, checkedOutAt: number, invalidated: boolean): void {
  // A checkout made before anyone subscribed has no real time (0): report no use time rather than a wrong one.
  if (checkedOutAt === 0) return
  poolChannels.checkin.publish({ pool, poolName: poolNameOf(pool), connectionId: record.id, useMs: performance.now() - checkedOutAt, invalidated })
}

export function publishTimeout (pool: Pool, since: number, stats: PoolStats): void {
  poolChannels.timeout.publish({ pool, poolName: poolNameOf(pool), waitMs: performance.now() - since, stats })
}

export function publishInvalidate (pool: Pool, record: ConnectionRecord, error: unknown): void {
  poolChannels.invalidate.publish({ pool, poolName: poolNameOf(pool), connectionId: record.id, error })
}

export function publishLeak (pool: Pool, connectionId: number, heldMs: number, threshold: number, stack: string | undefined): void {
  poolChannels.leak.publish({ pool, poolName: poolNameOf(pool), connectionId, heldMs, threshold, stack })
}

export function publishSessionAcquired (session: Session, pool: Pool, requestId: string | undefined, connectionId: number, waitMs: number): void {
  sessionChannels.acquired.publish({ session, pool, poolName: poolNameOf(pool), requestId, connectionId, waitMs })
}

export function publishSessionReleased (session: Session, pool: Pool, requestId: string | undefined, heldMs: number, queries: number): void {
  sessionChannels.released.publish({ session, pool, poolName: poolNameOf(pool), requestId, heldMs, queries })
}
