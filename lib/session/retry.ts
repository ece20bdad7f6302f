/**
 * Retrying a transaction the database rolled back: InnoDB's deadlock victim (1213), a lock wait
 * timeout (1205), and Galera's certification failure (reported as 1213 on COMMIT). MySQL's manual
 * says to retry the whole transaction; a savepoint can't be retried alone, so only a top-level
 * transaction(fn) retries. Between attempts a bounded, jittered exponential back-off keeps the two
 * victims of a deadlock from colliding again in lock-step.
 */
import { TransactionConflictError } from '../errors'
import type { PoolLogger } from '../pool/logger'

const ER_LOCK_DEADLOCK = 1213
const ER_LOCK_WAIT_TIMEOUT = 1205

/** First back-off (before the second attempt), in ms; it doubles per attempt up to MAX_DELAY_MS. */
export const BASE_DELAY_MS = 20
export const MAX_DELAY_MS = 1000

/** The server's deadlock/lock-timeout error anywhere in the error's cause chain, else undefined. */
export function serverConflict (err: unknown): { errno: number } | undefined {
  for (let e = err, depth = 0; e !== null && typeof e === 'object' && depth < 5; e = (e as { cause?: unknown }).cause, depth++) {
    const errno = (e as { errno?: unknown }).errno
    if (errno === ER_LOCK_DEADLOCK || errno === ER_LOCK_WAIT_TIMEOUT) return e as { errno: number }
  }
  return undefined
}

/** The wait before attempt `attempt + 1` (attempt >= 1): half fixed, half random ("equal jitter"). */
export function backoffDelay (attempt: number, random: () => number = Math.random): number {
  const ceiling = Math.min(MAX_DELAY_MS, BASE_DELAY_MS * 2 ** (attempt - 1))
  return ceiling / 2 + random() * ceiling / 2
}

/**
 * Runs `attempt` (which begins, runs and ends one transaction, rolling back on failure) up to
 * `1 + retries` times while it fails with a conflict. Each retry is logged at `warn` with its
 * attempt number; when the last attempt fails too, a TransactionConflictError counting the attempts
 * surfaces (its cause is the server's last error). Any other error surfaces at once.
 */
export async function runWithRetries<T> (attempt: () => Promise<T>, retries: number, log: PoolLogger): Promise<T> {
  for (let n = 1; ; n++) {
    try {
      return await attempt()
    } catch (err) {
      const cause = serverConflict(err)
      if (cause === undefined) throw err
      if (n > retries) throw new TransactionConflictError(cause, n)
      const errno = cause.errno
      const delayMs = Math.round(backoffDelay(n))
      log.warn({ attempt: n, of: retries + 1, errno, delayMs }, `Transaction rolled back by the database (${errno}); retrying, attempt ${n + 1} of ${retries + 1}`)
      await new Promise((resolve) => setTimeout(resolve, delayMs))
    }
  }
}
