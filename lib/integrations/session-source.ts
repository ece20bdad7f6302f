/**
 * What the query-builder integrations need from `app.db` (or `app.dbs.NAME`): the session of the
 * request running now, if any, and a fresh session for work outside a request.
 */
import type { Session } from '../session/session'

export interface SessionSource {
  /** A new session (lazy: it takes a connection at its first statement); the caller closes it. */
  session: () => Session
  /** The session of the request whose async context is running, or undefined outside a request. */
  tryCurrent: () => Session | undefined
}

/** The session to run on now, and whether the caller owns it (must close it when done). */
export interface Borrowed {
  session: Session
  owned: boolean
}

/**
 * Inside a request: the request's session (same connection, inside its transaction), never closed
 * here. Outside: a new session that the caller closes once its statement (or unit) is done.
 */
export function borrowSession (source: SessionSource): Borrowed {
  const current = source.tryCurrent()
  return current === undefined ? { session: source.session(), owned: true } : { session: current, owned: false }
}

export function isSessionSource (value: unknown): value is SessionSource {
  return typeof value === 'object' && value !== null && typeof (value as SessionSource).session === 'function' &&
    typeof (value as SessionSource).tryCurrent === 'function'
}
