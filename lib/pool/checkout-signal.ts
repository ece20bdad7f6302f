/**
 * How a checkout is abandoned: the signal it listens to, the per-checkout options, and the wrapper
 * that rejects a slow checkout the moment its signal aborts. Kept apart from the pool so the
 * session and the request scope can name these types without importing the pool's machinery.
 */
import type { PooledConnection } from './pooled-connection'

/**
 * What the pool uses of an AbortSignal. An AbortSignal is one; the plugin passes a lighter object
 * of its own per request, because in Node 20 adding a listener to an AbortSignal costs microseconds.
 */
export interface CancelSignal {
  readonly aborted: boolean
  readonly reason: unknown
  addEventListener: (type: 'abort', listener: () => void, options?: { once?: boolean }) => void
  removeEventListener: (type: 'abort', listener: () => void) => void
}

/** Per-checkout options of `pool.connect()`. */
export interface CheckoutOptions {
  /**
   * Abandons the checkout: a waiter leaves the queue at once and a connection still being opened
   * for it goes to the next waiter (or the pool) when it arrives. The checkout rejects with
   * `signal.reason`. A connection already handed out is the caller's to close.
   */
  signal?: AbortSignal | CancelSignal | undefined
  /** ms this checkout may wait at the limit: the sooner of this and the pool's `timeout` applies. */
  timeout?: number | undefined
}

/** The abort reason as an Error (AbortSignal's default reason is a DOMException, also an Error). */
export function abortReason (signal: CancelSignal): Error {
  const reason: unknown = signal.reason
  return reason instanceof Error ? reason : new Error(String(reason))
}

/**
 * The slow checkout, rejected as soon as `signal` aborts. The work goes on (a connect can't be
 * taken back) and the pool gives its slot back when it sees the abort; a handle that was handed
 * out in the instant between is closed here.
 */
export function abandonable (work: Promise<PooledConnection>, signal: CancelSignal): Promise<PooledConnection> {
  if (signal.aborted) return work
  return new Promise<PooledConnection>((resolve, reject) => {
    let gone = false
    const onAbort = (): void => {
      gone = true
      reject(abortReason(signal))
    }
    signal.addEventListener('abort', onAbort, { once: true })
    work.then((handle) => {
      signal.removeEventListener('abort', onAbort)
      if (gone) void handle.close()
      else resolve(handle)
    }, (err: unknown) => {
      signal.removeEventListener('abort', onAbort)
      reject(err)
    })
  })
}
