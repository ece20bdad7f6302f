/**
 * The pools' options: defaults and validation, and the small validators the plugin's options reuse.
 * Every check fails at construction time with a message that names the option and the accepted
 * values; unknown names are rejected (with a suggestion) instead of silently ignored. The pool knows
 * nothing of Fastify: the plugin's options (lib/options.ts) import from here, never the reverse.
 */
import { InvalidOptionError } from '../errors'
import type { PoolLogger } from './logger'
import type { OnConnect } from './connect-setup'

export type ResetOnReturn = 'rollback' | 'reset' | 'commit' | 'none'
export type PoolClassName = 'queue' | 'null' | 'static' | 'assertion'

/** Options of QueuePool (and, where they apply, of the other pools). All durations in ms. */
export interface PoolOptions {
  /** Idle connections kept; 0 = unbounded (maxOverflow is then ignored). SQLAlchemy `pool_size`. */
  poolSize?: number
  /** Connections allowed beyond poolSize; -1 = unlimited. SQLAlchemy `max_overflow`. */
  maxOverflow?: number
  /** How long a checkout waits at the limit before PoolTimeoutError; Infinity = forever. */
  timeout?: number
  /** Maximum age of a connection, checked at checkout; -1 = off. SQLAlchemy `pool_recycle`. */
  recycle?: number
  /** Ping a connection at checkout (unless fresh or used within prePingBypass); reconnect once on failure. */
  prePing?: boolean
  /** What returning a connection does to it. */
  resetOnReturn?: ResetOnReturn
  /** Hand out the most recently returned idle connection first. */
  useLifo?: boolean
  /** Deadline for opening a connection. */
  connectTimeout?: number
  /** Deadline for a pre-ping. */
  pingTimeout?: number
  /** Deadline for the reset on return (ROLLBACK / COM_RESET_CONNECTION / COMMIT). */
  resetTimeout?: number
  /** A connection used this recently is not pre-pinged (HikariCP's aliveBypassWindowMs). */
  prePingBypass?: number
  /** Fraction of `recycle` randomly taken off each connection's lifetime so they don't expire together. */
  recycleJitter?: number
  /** How long close() waits for checked-out connections before closing them anyway. */
  closeTimeout?: number
  /** Log a connection held longer than this, with the stack that took it; 0 = off. */
  leakDetectionThreshold?: number
  /** KILL the server thread of a connection abandoned mid-statement (it keeps running otherwise). */
  killAbandoned?: boolean
  /**
   * Controlled delay (CoDel, as in Facebook's "Fail at Scale"): once the wait queue has not been
   * empty for `queueInterval` ms, a new checkout waits at most this many ms before
   * PoolTimeoutError, so an overloaded pool answers fast 503s instead of serving requests whose
   * clients have given up. 0 = off (SQLAlchemy: every checkout waits up to `timeout`).
   */
  queueTarget?: number
  /** How long the queue must stay non-empty before `queueTarget` (and `adaptiveLifo`) apply. */
  queueInterval?: number
  /** While the queue is congested (see queueInterval), serve the newest waiter first: it has the most time left. */
  adaptiveLifo?: boolean
  /**
   * Refuse a checkout at once (PoolTimeoutError) when the queue ahead of it cannot be served
   * within its timeout, judged from the measured time connections are held: the 503 comes now
   * instead of after the whole wait, and the capacity goes to checkouts that can make it.
   * On by default (SQLAlchemy waits the whole timeout): it only refuses what would have timed
   * out anyway and keeps the queue in FIFO order; under overload it answered its 503s at arrival
   * at the goodput of the waiting queue, within the noise (README, Overload). `false` waits the
   * whole timeout.
   */
  failFast?: boolean
  /** Where warnings and errors go; defaults to a pino logger at `warn`. */
  logger?: PoolLogger
  /** AssertionPool only: remember where the outstanding checkout happened. */
  storeTraceback?: boolean
  /** Sets up every new connection before its first hand-out (e.g. `SET time_zone`); bounded by connectTimeout. */
  onConnect?: OnConnect
}

export type ResolvedPoolOptions = Required<Omit<PoolOptions, 'logger' | 'onConnect'>> & { logger: PoolLogger | undefined, onConnect: OnConnect | undefined }

export const defaultPoolOptions: Readonly<ResolvedPoolOptions> = Object.freeze({
  poolSize: 5,
  maxOverflow: 10,
  timeout: 30_000,
  recycle: -1,
  prePing: false,
  resetOnReturn: 'rollback',
  useLifo: false,
  connectTimeout: 10_000,
  pingTimeout: 5_000,
  resetTimeout: 5_000,
  prePingBypass: 500,
  recycleJitter: 0.025,
  closeTimeout: 10_000,
  leakDetectionThreshold: 0,
  killAbandoned: true,
  queueTarget: 0,
  queueInterval: 100,
  adaptiveLifo: false,
  failFast: true,
  logger: undefined,
  storeTraceback: true,
  onConnect: undefined
})

export const RESET_MODES: readonly ResetOnReturn[] = ['rollback', 'reset', 'commit', 'none']
export const POOL_CLASSES: readonly PoolClassName[] = ['queue', 'null', 'static', 'assertion']

export function describe (value: unknown): string {
  if (typeof value === 'string') return JSON.stringify(value)
  if (typeof value === 'number' || typeof value === 'boolean' || value == null) return String(value)
  return Array.isArray(value) ? 'an array' : `a ${typeof value}`
}

export function fail (option: string, expected: string, value: unknown): never {
  throw new InvalidOptionError(option, `Invalid option ${option}: expected ${expected}, got ${describe(value)}`)
}

export function integer (option: string, value: unknown, min: number): number {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < min) {
    fail(option, `an integer >= ${min}`, value)
  }
  return value
}

/** A duration in ms: a finite number >= min, or Infinity where allowed. */
export function duration (option: string, value: unknown, min: number, allowInfinity = false): number {
  const ok = typeof value === 'number' && !Number.isNaN(value) && value >= min && (allowInfinity || Number.isFinite(value))
  if (!ok) fail(option, `a number of milliseconds >= ${min}${allowInfinity ? ' (or Infinity)' : ''}`, value)
  return value as number
}

export function boolean (option: string, value: unknown): boolean {
  if (typeof value !== 'boolean') fail(option, 'true or false', value)
  return value as boolean
}

export function oneOf<T extends string> (option: string, value: unknown, accepted: readonly T[]): T {
  if (!accepted.includes(value as T)) fail(option, `one of ${accepted.map((a) => `'${a}'`).join(', ')}`, value)
  return value as T
}

function checkLogger (option: string, value: unknown): PoolLogger {
  const l = value as Partial<PoolLogger> | null
  if (l === null || typeof l !== 'object' || typeof l.warn !== 'function' || typeof l.error !== 'function' ||
    typeof l.info !== 'function' || typeof l.debug !== 'function') {
    fail(option, 'a logger with debug/info/warn/error methods (e.g. a pino logger)', value)
  }
  return value as PoolLogger
}

/** Rejects keys outside `accepted`, suggesting the accepted name that differs only in case or `_`. */
export function rejectUnknown (where: string, options: object, accepted: readonly string[]): void {
  for (const key of Object.keys(options)) {
    if (accepted.includes(key)) continue
    const norm = key.replace(/_/g, '').toLowerCase()
    const near = accepted.find((a) => a.toLowerCase() === norm)
    const hint = near === undefined ? '' : ` Did you mean ${near}?`
    throw new InvalidOptionError(key, `Unknown ${where} option ${key}.${hint} Accepted options: ${accepted.join(', ')}`)
  }
}

const POOL_OPTION_NAMES = Object.keys(defaultPoolOptions)

/** Validates pool options and merges them over the defaults. */
export function resolvePoolOptions (options: PoolOptions | undefined): ResolvedPoolOptions {
  if (options === undefined) return { ...defaultPoolOptions }
  if (options === null || typeof options !== 'object') fail('options', 'an object', options)
  rejectUnknown('pool', options, POOL_OPTION_NAMES)
  const o = { ...defaultPoolOptions, ...stripUndefined(options) }
  return {
    poolSize: integer('poolSize', o.poolSize, 0),
    maxOverflow: integer('maxOverflow', o.maxOverflow, -1),
    timeout: duration('timeout', o.timeout, 0, true),
    recycle: o.recycle === -1 ? -1 : duration('recycle', o.recycle, 0),
    prePing: boolean('prePing', o.prePing),
    resetOnReturn: oneOf('resetOnReturn', o.resetOnReturn, RESET_MODES),
    useLifo: boolean('useLifo', o.useLifo),
    connectTimeout: duration('connectTimeout', o.connectTimeout, 1, true),
    pingTimeout: duration('pingTimeout', o.pingTimeout, 1, true),
    resetTimeout: duration('resetTimeout', o.resetTimeout, 1, true),
    prePingBypass: duration('prePingBypass', o.prePingBypass, 0),
    recycleJitter: (typeof o.recycleJitter === 'number' && o.recycleJitter >= 0 && o.recycleJitter < 1)
      ? o.recycleJitter
      : fail('recycleJitter', 'a fraction >= 0 and < 1', o.recycleJitter),
    closeTimeout: duration('closeTimeout', o.closeTimeout, 0, true),
    leakDetectionThreshold: duration('leakDetectionThreshold', o.leakDetectionThreshold, 0),
    killAbandoned: boolean('killAbandoned', o.killAbandoned),
    queueTarget: duration('queueTarget', o.queueTarget, 0),
    queueInterval: duration('queueInterval', o.queueInterval, 1),
    adaptiveLifo: boolean('adaptiveLifo', o.adaptiveLifo),
    failFast: boolean('failFast', o.failFast),
    logger: o.logger === undefined ? undefined : checkLogger('logger', o.logger),
    storeTraceback: boolean('storeTraceback', o.storeTraceback),
    onConnect: o.onConnect === undefined || typeof o.onConnect === 'function' ? o.onConnect : fail('onConnect', 'a function (connection) => Promise<void>', o.onConnect)
  }
}

export function stripUndefined<T extends object> (obj: T): Partial<T> {
  const out: Partial<T> = {}
  for (const [k, v] of Object.entries(obj)) if (v !== undefined) (out as Record<string, unknown>)[k] = v
  return out
}
