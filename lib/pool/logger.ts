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
