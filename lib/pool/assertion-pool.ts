/**
 * SQLAlchemy's AssertionPool: at most one checkout at a time. A second checkout while the first
 * is out fails at once, with the stack of the outstanding one; for tests that must prove code
 * never holds two connections (the nested-acquire deadlock).
 */
import { AlreadyCheckedOutError, PoolClosedError } from '../errors'
import { Pool } from './base-pool'
import { abortReason, type CheckoutOptions } from './checkout-signal'
import type { ConnectionRecord } from './connection-record'
import type { PooledConnection } from './pooled-connection'
import { newCounters, type PoolStats } from './stats'

export class AssertionPool extends Pool {
  #record: ConnectionRecord | undefined = undefined
  #out = false
  #stack: string | undefined = undefined

  connect (options?: CheckoutOptions): Promise<PooledConnection> {
    if (this._closed) return Promise.reject(new PoolClosedError())
    const signal = options?.signal
    if (signal?.aborted === true) return Promise.reject(abortReason(signal))
    if (this.#out) {
      const where = this.#stack === undefined ? '' : ` at:\n${this.#stack}`
      return Promise.reject(new AlreadyCheckedOutError(`connection is already checked out${where}`))
    }
    this.#out = true
    if (this._opts.storeTraceback) this.#stack = new Error('checked out').stack?.split('\n').slice(2).join('\n')
    this.#record ??= this._newRecord()
    return this._checkout(this.#record, false, signal)
  }

  protected _returnRecord (record: ConnectionRecord): void {
    this.#out = false
    this.#stack = undefined
    if (this._closed) this._returnedWhileClosing(record)
  }

  protected _checkoutFailed (record: ConnectionRecord): void {
    this._returnRecord(record)
  }

  protected _stopAccepting (): void {}

  protected _outstanding (): number {
    return this.#out ? 1 : 0
  }

  async dispose (): Promise<void> {
    const record = this.#record
    if (record !== undefined && !this.#out) {
      this._forget(record)
      this.#record = undefined
    }
    this._counters = newCounters()
  }

  status (): string {
    return 'AssertionPool'
  }

  stats (): PoolStats {
    const idle = !this.#out && this.#record?.connection != null ? 1 : 0
    return { size: 1, checkedIn: idle, checkedOut: this.#out ? 1 : 0, overflow: 0, waiting: 0, ...this._counters }
  }
}
