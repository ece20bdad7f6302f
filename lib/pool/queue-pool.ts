/**
 * SQLAlchemy's QueuePool: up to `poolSize` idle slots kept, `maxOverflow` more allowed at once,
 * checkouts at the limit wait up to `timeout`. The `_overflow` counter is kept exactly as
 * SQLAlchemy keeps it (existing slots minus poolSize, negative while below), so `status()` and
 * the accessors match it number for number.
 *
 * Unlike SQLAlchemy (issue #7679), waiters are served in strict FIFO order: a returned slot is
 * handed straight to the longest waiter, never left for a newcomer to take, and a slot freed by a
 * failed connect wakes a waiter instead of leaving it to time out.
 */
import { performance } from 'node:perf_hooks'
import { PoolClosedError, PoolTimeoutError, type FailFastRefusal } from '../errors'
import type { PoolOptions } from './options'
import { Pool, type Creator } from './base-pool'
import { abortReason, type CancelSignal, type CheckoutOptions } from './checkout-signal'
import type { ConnectionRecord } from './connection-record'
import type { PooledConnection } from './pooled-connection'
import { newCounters, type PoolGauges, type PoolStats } from './stats'
import { poolChannels, publishTimeout } from '../observe/channels'

interface Waiter {
  resolve: (handle: PooledConnection | Promise<PooledConnection>) => void
  reject: (err: Error) => void
  /** performance.now() after which it times out. With the pool's timeout, the FIFO queue is also
   * in deadline order and one timer (for the head) serves every such waiter. */
  deadline: number
  /** The caller's signal; the waiter leaves the queue the moment it aborts. */
  signal: CancelSignal | undefined
  onAbort: (() => void) | undefined
  /** Its own timer, only for a checkout with a shorter `timeout` than the pool's. */
  timer: NodeJS.Timeout | undefined
  /** The timeout that applies to it, in ms (for the error message). */
  timeout: number
  /** performance.now() when it started waiting (the checkout's wait time starts here). */
  since: number
  /** Set when the caller already holds a connection of this pool (see nestedCheckoutProbe). */
  nested: string | undefined
}

/**
 * At most one saturation warning per this many ms. Under steady load at the limit the queue empties
 * and fills again many times a second (once every ten requests in the plain-route benchmark): a
 * warning per episode was a log line per ten requests, each with the pool's stats to serialize.
 */
export const SATURATION_WARNING_INTERVAL_MS = 10_000

/** failFast admits a checkout only if it expects to be served within this share of its timeout. */
export const FAIL_FAST_HEADROOM = 0.9

export class QueuePool extends Pool {
  readonly #poolSize: number
  readonly #maxOverflow: number
  /** Idle slots; taken from the front (FIFO) or the back (LIFO). */
  #idle: ConnectionRecord[] = []
  #overflow: number
  #waiters: Waiter[] = []
  /** The one deadline timer, armed for the head waiter while the queue is not empty. */
  #timer: NodeJS.Timeout | undefined = undefined
  /** performance.now() of the last saturation warning (none yet: the first wait warns). */
  #saturationWarnedAt = -Infinity
  /** Checkouts that had to wait since the last saturation warning. */
  #waitsSinceWarning = 0
  /** performance.now() when the queue was last empty: the controlled-delay clock. */
  #lastEmpty = performance.now()

  constructor (creator: Creator, options?: PoolOptions) {
    super(creator, options)
    this.#poolSize = this._opts.poolSize
    // SQLAlchemy #8523: poolSize 0 means no limit at all.
    this.#maxOverflow = this.#poolSize === 0 ? -1 : this._opts.maxOverflow
    this.#overflow = -this.#poolSize
  }

  connect (options?: CheckoutOptions): Promise<PooledConnection> {
    if (this._closed) return Promise.reject(new PoolClosedError())
    const signal = options?.signal
    if (signal?.aborted === true) return Promise.reject(abortReason(signal))
    if (this.#waiters.length === 0) {
      const record = this._opts.useLifo ? this.#idle.pop() : this.#idle.shift()
      if (record !== undefined) return this._checkout(record, false, signal)
      if (this.#hasCapacity()) return this.#checkoutNew(signal)
    }
    return this.#wait(signal, options?.timeout)
  }

  override connectNow (): PooledConnection | undefined {
    // A subclass that overrides connect() (to count or trace checkouts) gets every checkout there.
    if (this._closed || this.#waiters.length !== 0 || this.connect !== QueuePool.prototype.connect) return undefined
    const lifo = this._opts.useLifo
    const record = lifo ? this.#idle.pop() : this.#idle.shift()
    if (record === undefined) return undefined
    const handle = this._checkoutNow(record)
    // Needs the slow path (I/O): put it back where it was; connect() will take it from there.
    if (handle === undefined) {
      if (lifo) this.#idle.push(record)
      else this.#idle.unshift(record)
    }
    return handle
  }

  #hasCapacity (): boolean {
    return this.#maxOverflow === -1 || this.#overflow < this.#maxOverflow
  }

  /** Counts the new slot before connecting, so concurrent checkouts can't exceed the limit. */
  #checkoutNew (signal?: CancelSignal, since = 0): Promise<PooledConnection> {
    this.#overflow++
    const record = this._newRecord()
    record.waitSince = since
    return this._checkout(record, true, signal)
  }

  /** The queue has not been empty for `queueInterval` ms: the pool is overloaded, not just busy. */
  #congested (now: number): boolean {
    return this.#waiters.length > 0 && now - this.#lastEmpty > this._opts.queueInterval
  }

  #wait (signal: CancelSignal | undefined, ownTimeout: number | undefined): Promise<PooledConnection> {
    let limit = ownTimeout ?? Infinity
    const target = this._opts.queueTarget
    if (target > 0 || this._opts.adaptiveLifo) {
      const now = performance.now()
      if (this.#waiters.length === 0) this.#lastEmpty = now
      // Controlled delay: under sustained overload a checkout that can't be served soon is
      // refused soon — a fast 503 — rather than served after its client has given up.
      else if (target > 0 && this.#congested(now)) limit = Math.min(limit, target)
    }
    const poolTimeout = this._opts.timeout
    const own = limit < poolTimeout
    const timeout = own ? Math.max(0, limit) : poolTimeout
    const nested = this.nestedCheckoutProbe?.()
    if (timeout === 0) return Promise.reject(this.#timeoutError(timeout, performance.now(), nested))
    if (this._opts.failFast && this.#maxOverflow !== -1) {
      // The queue ahead can't be served in time: say so now, not after the whole wait. The
      // estimate needs (ahead + 1) returns, so it only refuses deep queues, where it is accurate.
      // It must leave headroom: slowdowns that hit every connection at once (a GC pause, a busy
      // machine) are not in the spread of single hold times, and a checkout admitted with no
      // room to spare would be answered by a 503 after its whole wait.
      const expected = this._expectedWait(this.#waiters.length, this.#poolSize + this.#maxOverflow)
      if (expected !== undefined && expected > timeout * FAIL_FAST_HEADROOM) {
        this._counters.refused++
        return Promise.reject(this.#timeoutError(timeout, performance.now(), nested, { ahead: this.#waiters.length, expectedMs: expected }))
      }
    }
    return new Promise<PooledConnection>((resolve, reject) => {
      const since = performance.now()
      const waiter: Waiter = {
        resolve,
        reject,
        deadline: Number.isFinite(timeout) ? since + timeout : Infinity,
        since,
        signal,
        onAbort: undefined,
        timer: undefined,
        timeout,
        nested
      }
      if (signal !== undefined) {
        waiter.onAbort = () => this.#leave(waiter, abortReason(signal), true)
        signal.addEventListener('abort', waiter.onAbort, { once: true })
      }
      this.#waiters.push(waiter)
      if (own) {
        // Not in deadline order with the others: a timer of its own.
        waiter.timer = setTimeout(() => this.#leave(waiter, this.#timeoutError(timeout, since, waiter.nested), false), timeout)
      } else if (this.#timer === undefined && Number.isFinite(timeout)) {
        this.#timer = setTimeout(this.#sweep, timeout)
      }
      this.#waitsSinceWarning++
      if (since - this.#saturationWarnedAt >= SATURATION_WARNING_INTERVAL_MS) this.#warnSaturated(since)
    })
  }

  /**
   * The rate-limited saturation warning. What the silenced waits would have said is not lost: the
   * next warning counts them (the wait that triggers it included), so a dashboard built on these
   * lines sees how often the pool made checkouts wait. The limit is about log volume, so dispose()
   * does not reset it.
   */
  #warnSaturated (now: number): void {
    const previous = this.#saturationWarnedAt
    this.#saturationWarnedAt = now
    const waits = this.#waitsSinceWarning
    this.#waitsSinceWarning = 0
    const sinceLast = previous === -Infinity ? {} : { waitsSinceLastWarning: waits, lastWarningSecondsAgo: Math.round((now - previous) / 1000) }
    this._log.warn({ dbPool: this.stats(), ...sinceLast },
      `Connection pool saturated: checkouts are waiting for a connection (at most one such warning every ${SATURATION_WARNING_INTERVAL_MS / 1000} s)`)
  }

  /**
   * Times out every waiter on the pool's timeout whose deadline passed (among themselves they are
   * in FIFO = deadline order; waiters with a timer of their own are skipped), then re-arms.
   */
  #sweep = (): void => {
    this.#timer = undefined
    const now = performance.now()
    let next = Infinity
    for (let i = 0; i < this.#waiters.length;) {
      const waiter = this.#waiters[i]
      if (waiter.timer !== undefined) {
        i++
        continue
      }
      // Timers may fire a hair early against performance.now(): never report a timeout before it is due.
      if (waiter.deadline > now) {
        next = waiter.deadline
        break
      }
      this.#waiters.splice(i, 1)
      this.#detach(waiter)
      const err = this.#timeoutError(waiter.timeout, waiter.since, waiter.nested)
      this._log.warn({ dbPool: err.stats }, err.message)
      waiter.reject(err)
    }
    this.#queueMaybeEmpty()
    if (this.#waiters.length > 0 && next !== Infinity) this.#timer = setTimeout(this.#sweep, Math.max(1, Math.ceil(next - now)))
  }

  /** The next waiter, if any, no longer listening for its abort; the deadline timer is dropped once nobody waits. */
  #nextWaiter (): Waiter | undefined {
    // Adaptive LIFO: while congested the newest waiter has the most time left before its client
    // gives up; the oldest would likely be answered too late anyway.
    const waiter = this._opts.adaptiveLifo && this.#congested(performance.now()) ? this.#waiters.pop() : this.#waiters.shift()
    if (waiter !== undefined) {
      this.#detach(waiter)
      this.#queueMaybeEmpty()
    }
    return waiter
  }

  #detach (waiter: Waiter): void {
    if (waiter.onAbort !== undefined) (waiter.signal as CancelSignal).removeEventListener('abort', waiter.onAbort)
    if (waiter.timer !== undefined) clearTimeout(waiter.timer)
  }

  /** A waiter leaves from anywhere in the queue: abandoned by its caller, or its own timeout ran out. */
  #leave (waiter: Waiter, err: Error, abandoned: boolean): void {
    const at = this.#waiters.indexOf(waiter)
    if (at === -1) return
    this.#waiters.splice(at, 1)
    this.#detach(waiter)
    this.#queueMaybeEmpty()
    if (abandoned) this._counters.abandoned++
    else this._log.warn({ dbPool: this.stats() }, err.message)
    waiter.reject(err)
  }

  #timeoutError (timeout: number, since: number, nested?: string, refusal?: FailFastRefusal): PoolTimeoutError {
    this._counters.timeouts++
    const err = new PoolTimeoutError(this.#poolSize, this.overflow(), timeout, this.stats(), this._lastConnectError, nested, refusal)
    if (poolChannels.timeout.hasSubscribers) publishTimeout(this, since, err.stats)
    return err
  }

  #queueMaybeEmpty (): void {
    if (this.#waiters.length !== 0) return
    if (this._opts.queueTarget > 0 || this._opts.adaptiveLifo) this.#lastEmpty = performance.now()
    if (this.#timer !== undefined) {
      clearTimeout(this.#timer)
      this.#timer = undefined
    }
  }

  protected _returnRecord (record: ConnectionRecord): void {
    if (record.epoch !== this._epoch) {
      this._forget(record) // checked out before dispose(): already forgotten by the counters
      return
    }
    if (this._closed) {
      this.#overflow--
      this._returnedWhileClosing(record)
      return
    }
    const waiter = this.#nextWaiter()
    if (waiter !== undefined) {
      // Resolve with the handle itself where possible: a promise would cost two more microtask hops.
      record.waitSince = waiter.since
      // The slow path goes through _checkout so that an abort while reconnecting rejects at once.
      waiter.resolve(this._checkoutNow(record) ?? this._checkout(record, false, waiter.signal))
      return
    }
    if (this.#poolSize === 0 || this.#idle.length < this.#poolSize) {
      this.#idle.push(record)
    } else {
      this.#overflow--
      this._forget(record)
    }
  }

  protected _checkoutFailed (record: ConnectionRecord, isNew: boolean): void {
    if (!isNew) {
      this._returnRecord(record) // SQLAlchemy #2772: the slot survives, empty
      return
    }
    if (record.epoch !== this._epoch) {
      this._forget(record)
      return
    }
    this.#overflow--
    this._records.delete(record)
    if (this._closed) {
      this._returnedWhileClosing(record)
      return
    }
    // The freed capacity goes to the longest waiter at once.
    const waiter = this.#nextWaiter()
    if (waiter !== undefined) waiter.resolve(this.#checkoutNew(waiter.signal, waiter.since))
  }

  protected _stopAccepting (): void {
    const waiters = this.#waiters
    this.#waiters = []
    this.#queueMaybeEmpty()
    for (const w of waiters) {
      this.#detach(w)
      w.reject(new PoolClosedError())
    }
    for (const record of this.#idle) this._forget(record)
    this.#overflow -= this.#idle.length
    this.#idle = []
  }

  protected _outstanding (): number {
    return this.checkedout()
  }

  async dispose (): Promise<void> {
    if (this._closed) return // close() owns the slots from then on
    const idle = this.#idle
    this.#idle = []
    for (const record of idle) this._forget(record)
    // Checked-out slots are forgotten by the counters (SQLAlchemy) and closed when they come back;
    // they stay in _records so that close() still waits for them and closes them.
    this._epoch++
    this.#overflow = -this.#poolSize
    this._counters = newCounters()
    this._log.info({ dbPool: this.stats() }, `Pool disposed. ${this.status()}`)
    // Capacity is free again: serve whoever was waiting.
    while (this.#waiters.length > 0 && this.#hasCapacity()) {
      const waiter = this.#nextWaiter() as Waiter
      waiter.resolve(this.#checkoutNew(waiter.signal, waiter.since))
    }
    this.#queueMaybeEmpty()
  }

  size (): number {
    return this.#poolSize
  }

  checkedin (): number {
    return this.#idle.length
  }

  overflow (): number {
    return this.#poolSize === 0 ? 0 : this.#overflow
  }

  checkedout (): number {
    return this.#poolSize - this.#idle.length + this.#overflow
  }

  status (): string {
    return `Pool size: ${this.size()}  Connections in pool: ${this.checkedin()} Current Overflow: ${this.overflow()} Current Checked out connections: ${this.checkedout()}`
  }

  override gauges (): PoolGauges {
    return { size: this.#poolSize, checkedIn: this.#idle.length, checkedOut: this.checkedout(), overflow: this.overflow(), waiting: this.#waiters.length }
  }

  stats (): PoolStats {
    return {
      size: this.#poolSize,
      checkedIn: this.#idle.length,
      checkedOut: this.checkedout(),
      overflow: this.overflow(),
      waiting: this.#waiters.length,
      ...this._counters
    }
  }
}
