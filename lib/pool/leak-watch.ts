/**
 * HikariCP-style leak detection for one checkout: a connection held longer than the threshold is
 * reported once, with the stack that took it, and reported again as returned if it comes back.
 */
import { performance } from 'node:perf_hooks'
import type { PoolLogger } from './logger'
import type { Pool } from './base-pool'
import { poolChannels, publishLeak } from '../observe/channels'
import type { PoolStats } from './stats'

export class LeakWatch {
  readonly #connection: number
  readonly #log: PoolLogger
  readonly #takenAt = performance.now()
  readonly #timer: NodeJS.Timeout
  #reported = false

  constructor (connection: number, threshold: number, log: PoolLogger, stats: () => PoolStats, pool: Pool) {
    this.#connection = connection
    this.#log = log
    // Captured now, at checkout: that stack is the whole point of the report.
    const stack = new Error('Connection checked out here').stack
    this.#timer = setTimeout(() => {
      this.#reported = true
      if (poolChannels.leak.hasSubscribers) publishLeak(pool, connection, performance.now() - this.#takenAt, threshold, stack)
      log.warn({
        connection,
        heldMs: Math.round(performance.now() - this.#takenAt),
        leakDetectionThreshold: threshold,
        stack,
        dbPool: stats()
      }, `Connection leak detection triggered: connection ${connection} held longer than ${threshold} ms, taken at the stack below`)
    }, threshold)
    this.#timer.unref()
  }

  /** The connection came back to the pool. */
  returned (): void {
    clearTimeout(this.#timer)
    if (!this.#reported) return
    this.#log.info({ connection: this.#connection, heldMs: Math.round(performance.now() - this.#takenAt) },
      `Previously reported leaked connection ${this.#connection} was returned to the pool (unleaked)`)
  }

  /** The connection was discarded instead (invalidated). */
  cancel (): void {
    clearTimeout(this.#timer)
  }
}
