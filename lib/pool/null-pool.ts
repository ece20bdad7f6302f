/**
 * SQLAlchemy's NullPool: no pooling. Every checkout opens a new connection and every return
 * closes it, so nothing can go stale; useful for scripts, tests and serverless functions.
 */
import { PoolClosedError } from '../errors'
import type { ResetOnReturn } from './options'
import { Pool } from './base-pool'
import { abortReason, type CheckoutOptions } from './checkout-signal'
import type { ConnectionRecord } from './connection-record'
import type { PooledConnection } from './pooled-connection'
import { newCounters, type PoolStats } from './stats'

export class NullPool extends Pool {
  #out = 0

  connect (options?: CheckoutOptions): Promise<PooledConnection> {
    if (this._closed) return Promise.reject(new PoolClosedError())
    const signal = options?.signal
    if (signal?.aborted === true) return Promise.reject(abortReason(signal))
    this.#out++
    return this._checkout(this._newRecord(), true, signal)
  }

  protected override _resetModeFor (_record: ConnectionRecord): ResetOnReturn {
    // Closing the connection discards its transaction and session state anyway; only a
    // requested COMMIT still has to be sent.
    return this._opts.resetOnReturn === 'commit' ? 'commit' : 'none'
  }

  protected _returnRecord (record: ConnectionRecord): void {
    this.#out--
    if (this._closed) this._returnedWhileClosing(record)
    else this._forget(record)
  }

  protected _checkoutFailed (record: ConnectionRecord): void {
    this._returnRecord(record)
  }

  protected _stopAccepting (): void {}

  protected _outstanding (): number {
    return this.#out
  }

  async dispose (): Promise<void> {
    this._counters = newCounters()
  }

  status (): string {
    return 'NullPool'
  }

  stats (): PoolStats {
    return { size: 0, checkedIn: 0, checkedOut: this.#out, overflow: 0, waiting: 0, ...this._counters }
  }
}
