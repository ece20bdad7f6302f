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
import { PoolClosedError, PoolTimeoutError } from '../errors'
import type { PoolOptions } from './options'
import { Pool, type Creator } from './base-pool'
import type { ConnectionRecord } from './connection-record'
import type { PooledConnection } from './pooled-connection'
import { newCounters, type PoolStats } from './stats'
import { poolChannels, publishTimeout } from '../observe/channels'

interface Waiter {
  resolve: (handle: PooledConnection | Promise<PooledConnection>) => void
  reject: (err: Error) => void
  /** performance.now() after which it times out. The timeout is the same for all, so the FIFO
   * queue is also in deadline order and one timer (for the head) serves every waiter. */
  deadline: number
  /** performance.now() when it started waiting (the checkout's wait time starts here). */
  since: number
}

export class QueuePool extends Pool {
  readonly #poolSize: number
  readonly #maxOverflow: number
  /** Idle slots; taken from the front (FIFO) or the back (LIFO). */
  #idle: ConnectionRecord[] = []
  #overflow: number
  #waiters: Waiter[] = []
  /** The one deadline timer, armed for the head waiter while the queue is not empty. */
  #timer: NodeJS.Timeout | undefined = undefined
  /** A saturation episode was already reported (reset when the queue empties). */
  #saturationReported = false

  constructor (creator: Creator, options?: PoolOptions) {
    super(creator, options)
    this.#poolSize = this._opts.poolSize
    // SQLAlchemy #8523: poolSize 0 means no limit at all.
    this.#maxOverflow = this.#poolSize === 0 ? -1 : this._opts.maxOverflow
    this.#overflow = -this.#poolSize
  }

  connect (): Promise<PooledConnection> {
    if (this._closed) return Promise.reject(new PoolClosedError())
    if (this.#waiters.length === 0) {
      const record = this._opts.useLifo ? this.#idle.pop() : this.#idle.shift()
      if (record !== undefined) return this._checkout(record, false)
      if (this.#hasCapacity()) return this.#checkoutNew()
    }
    return this.#wait()
  }

  #hasCapacity (): boolean {
    return this.#maxOverflow === -1 || this.#overflow < this.#maxOverflow
  }

  /** Counts the new slot before connecting, so concurrent checkouts can't exceed the limit. */
  #checkoutNew (waiter?: Waiter): Promise<PooledConnection> {
    this.#overflow++
    const record = this._newRecord()
    if (waiter !== undefined) record.waitSince = waiter.since
    return this._checkout(record, true)
  }

  #wait (): Promise<PooledConnection> {
    const timeout = this._opts.timeout
    if (timeout === 0) return Promise.reject(this.#timeoutError(performance.now()))
    return new Promise<PooledConnection>((resolve, reject) => {
      const since = performance.now()
      this.#waiters.push({ resolve, reject, deadline: Number.isFinite(timeout) ? since + timeout : Infinity, since })
      if (this.#timer === undefined && Number.isFinite(timeout)) this.#timer = setTimeout(this.#sweep, timeout)
      if (!this.#saturationReported) {
        this.#saturationReported = true
        this._log.warn({ dbPool: this.stats() }, 'Connection pool saturated: checkouts are waiting for a connection')
      }
    })
  }

  /** Times out every waiter whose deadline passed (they are at the front), then re-arms for the new head. */
  #sweep = (): void => {
    this.#timer = undefined
    const now = performance.now()
    while (this.#waiters.length > 0 && this.#waiters[0].deadline <= now) {
      const waiter = this.#waiters.shift() as Waiter
      this.#queueMaybeEmpty()
      const err = this.#timeoutError(waiter.since)
      this._log.warn({ dbPool: err.stats }, err.message)
      waiter.reject(err)
    }
    // Timers may fire a hair early against performance.now(): never report a timeout before it is due.
    if (this.#waiters.length > 0) this.#timer = setTimeout(this.#sweep, Math.max(1, Math.ceil(this.#waiters[0].deadline - now)))
  }

  /** The next waiter, if any; the deadline timer is dropped once nobody waits. */
  #nextWaiter (): Waiter | undefined {
    const waiter = this.#waiters.shift()
    if (waiter !== undefined) this.#queueMaybeEmpty()
    return waiter
  }

  #timeoutError (since: number): PoolTimeoutError {
    this._counters.timeouts++
    const err = new PoolTimeoutError(this.#poolSize, this.overflow(), this._opts.timeout, this.stats(), this._lastConnectError)
    if (poolChannels.timeout.hasSubscribers) publishTimeout(this, since, err.stats)
    return err
  }

  #queueMaybeEmpty (): void {
    if (this.#waiters.length !== 0) return
    this.#saturationReported = false
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
      waiter.resolve(this._checkoutNow(record) ?? this._checkoutSlow(record, false))
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
    if (waiter !== undefined) waiter.resolve(this.#checkoutNew(waiter))
  }

  protected _stopAccepting (): void {
    const waiters = this.#waiters
    this.#waiters = []
    this.#queueMaybeEmpty()
    for (const w of waiters) w.reject(new PoolClosedError())
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
    // Checked-out slots are forgotten (SQLAlchemy); they are closed when they come back.
    this._epoch++
    for (const record of this._records) if (record.epoch !== this._epoch) this._records.delete(record)
    this.#overflow = -this.#poolSize
    this._counters = newCounters()
    this._log.info({ dbPool: this.stats() }, `Pool disposed. ${this.status()}`)
    // Capacity is free again: serve whoever was waiting.
    while (this.#waiters.length > 0 && this.#hasCapacity()) {
      const waiter = this.#nextWaiter() as Waiter
      waiter.resolve(this.#checkoutNew(waiter))
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
