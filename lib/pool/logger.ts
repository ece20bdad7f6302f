/** The subset of a pino logger the pools use; `app.log` and any pino child fit. */
export interface PoolLogger {
  debug: (obj: object, msg?: string) => void
  info: (obj: object, msg?: string) => void
  warn: (obj: object, msg?: string) => void
  error: (obj: object, msg?: string) => void
}

let fallback: PoolLogger | undefined

/**
 * A standalone pool without a logger still reports what SQLAlchemy logs as errors and warnings
 * (failed resets, leaks), so it gets a pino logger at `warn`, created only when first needed.
 */
export function defaultLogger (): PoolLogger {
  if (fallback === undefined) {
    // Required lazily so an app that passes its own logger never loads a second pino instance.
    const pino = require('pino') as typeof import('pino')
    fallback = pino.pino({ name: 'fastify-db-session', level: 'warn' })
  }
  return fallback
}

const kGuarded = Symbol('fastify-db-session.guardedLogger')

/**
 * The pool logs from the middle of its bookkeeping (a waiter just queued, a timeout being
 * delivered, a failed reset): a logger that throws there — a serializer, a destination that
 * throws on write — would leave a waiter queued that nobody answers, or a connection handed to a
 * promise already settled. So the pool's calls go through this guard, which swallows what the
 * logger throws and says so once, as a process warning (the logger itself can't be trusted to).
 */
export function guardLogger (log: PoolLogger): PoolLogger {
  // Idempotent: the plugin guards the logger it hands the cluster, and the pool guards what it is
  // given; one logger wrapped twice still says once that it threw.
  if (kGuarded in log) return log
  let warned = false
  const failed = (err: unknown): void => {
    if (warned) return
    warned = true
    process.emitWarning(`The pool's logger threw (${describe(err)}); the pool carried on, and swallows what its logger throws from now on`, 'FastifyDbSessionWarning')
  }
  const guarded: PoolLogger & { [kGuarded]: true } = {
    [kGuarded]: true,
    debug (obj, msg) { try { log.debug(obj, msg) } catch (err) { failed(err) } },
    info (obj, msg) { try { log.info(obj, msg) } catch (err) { failed(err) } },
    warn (obj, msg) { try { log.warn(obj, msg) } catch (err) { failed(err) } },
    error (obj, msg) { try { log.error(obj, msg) } catch (err) { failed(err) } }
  }
  return guarded
}

/** What was thrown, in words; anything can be thrown, even a value whose String() throws. */
function describe (err: unknown): string {
  try {
    return String(err instanceof Error ? err.message : err) // a message can be anything too
  } catch {
    return 'a value that cannot be printed'
  }
}
