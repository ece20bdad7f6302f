/**
 * SQLAlchemy's StaticPool: exactly one connection, handed to every caller, even concurrently.
 * For tests and single-connection tools. Only the last holder's return resets it, so one caller
 * never rolls back another's work; a broken connection is replaced at the next checkout.
 * `recycle` and `prePing` do not apply.
 */
import { performance } from 'node:perf_hooks'
import { PoolClosedError } from '../errors'
import type { ResetOnReturn } from './options'
import { Pool } from './base-pool'
import { abortReason, type CheckoutOptions } from './checkout-signal'
import type { ConnectionRecord } from './connection-record'
import type { PooledConnection } from './pooled-connection'
import { newCounters, type PoolStats } from './stats'

export class StaticPool extends Pool {
  #record: ConnectionRecord | undefined = undefined
  #opening: Promise<void> | undefined = undefined

  connect (options?: CheckoutOptions): Promise<PooledConnection> {
    if (this._closed) return Promise.reject(new PoolClosedError())
    // One shared connection, never waited for: only an already-abandoned checkout is refused.
    if (options?.signal?.aborted === true) return Promise.reject(abortReason(options.signal))
    let record = this.#record
    if (record !== undefined && this.#opening === undefined && record.connection !== null && !record.broken && record.generation === this._generation) {
      return Promise.resolve(this._handOut(record, performance.now()))
    }
    if (this.#opening === undefined) {
      // Others may still hold a dead shared connection: give the newcomers a new slot.
      if (record === undefined || record.holders > 0) {
        record = this._newRecord()
        this.#record = record
      }
      const target = record
      this._drop(target, new Error('Connection was broken or invalidated'))
      this.#opening = this._open(target).finally(() => { this.#opening = undefined })
    }
    const target = this.#record as ConnectionRecord
    return (this.#opening as Promise<void>).then(() => this._handOut(target, performance.now()))
  }

  protected override _resetModeFor (record: ConnectionRecord): ResetOnReturn {
    return record.holders > 1 ? 'none' : this._opts.resetOnReturn
  }

  protected _returnRecord (record: ConnectionRecord): void {
    if (this._closed) this._returnedWhileClosing(record)
    else if (record !== this.#record) this._forget(record)
  }

  protected _checkoutFailed (): void {}

  protected _stopAccepting (): void {}

  protected _outstanding (): number {
    let n = 0
    for (const record of this._records) n += record.holders
    return n
  }

  async dispose (): Promise<void> {
    const record = this.#record
    this.#record = undefined
    if (record !== undefined && record.holders === 0) this._forget(record)
    this._counters = newCounters()
  }

  status (): string {
    return 'StaticPool'
  }

  stats (): PoolStats {
    const out = this._outstanding()
    const idle = this.#record !== undefined && this.#record.holders === 0 && this.#record.connection !== null ? 1 : 0
    return { size: 1, checkedIn: idle, checkedOut: out, overflow: 0, waiting: 0, ...this._counters }
  }
}
