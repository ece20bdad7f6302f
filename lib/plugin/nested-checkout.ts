/**
 * The nested-checkout self-deadlock (HikariCP's pool-sizing formula, knex#2820): a request holds a
 * connection (`request.db`) and then waits for a second one from the same pool (a helper calling
 * `app.db.query()` or `app.db.session()`). When every connection is held by requests doing this,
 * they all wait for each other until `poolTimeout`.
 *
 * The pool asks the probe only when a checkout has to wait, so this costs nothing on the normal
 * path. The first nested wait of a pool is logged as a warning with the stack that asked for the
 * second connection (its async frames run through the handler holding the first) and what the
 * request holds; every nested wait that times out says so in its PoolTimeoutError message.
 */
import type { PoolLogger } from '../pool/logger'
import type { Session } from '../session/session'
import type { DbFacade } from './db-facade'
import { currentRequest } from './request-context'

export function nestedCheckoutProbe (facade: DbFacade, where: string, log: PoolLogger): () => string | undefined {
  let warned = false
  return function probe () {
    let held: Session | undefined
    try {
      held = facade.tryCurrent()
    } catch {
      return undefined // that request has ended: it holds nothing
    }
    if (held === undefined || !held.hasConnection) return undefined
    const note = `this request already holds a connection of this pool and waited for a second one (a nested checkout, e.g. ${where}.query() or ${where}.session() inside a request): ` +
      `use request.db or ${where}.current() there, or requests doing this can end up waiting for each other`
    if (!warned) {
      warned = true
      const request = currentRequest()
      log.warn({
        nestedCheckoutStack: deepStack('Second connection requested here'),
        heldBy: {
          reqId: request?.id,
          route: request === undefined ? undefined : `${request.method} ${request.routeOptions.url ?? request.url}`,
          ...held.stats()
        }
      }, `Nested checkout: ${note}. Logged once per pool; the stack below asked for the second connection`)
    }
    return note
  }
}

/** A stack deep enough to get past the pool and session frames to the caller's (once per pool). */
function deepStack (message: string): string | undefined {
  const limit = Error.stackTraceLimit
  Error.stackTraceLimit = 40
  try {
    return new Error(message).stack
  } finally {
    Error.stackTraceLimit = limit
  }
}
