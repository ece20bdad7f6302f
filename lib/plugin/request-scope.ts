/**
 * What the plugin keeps per request, shared by every registration (the default `request.db` and
 * each named `request.dbs.NAME`): whether the request is still live, the sessions opened for it,
 * and the signal their pool waits listen to.
 *
 * One rule, enforced here: a session can only be created and used while its request is live. A
 * request stops being live when
 * - the plugin has finished its work for the response (`seal()`, at the end of its onSend): the
 *   answer is decided, nothing may be added to the unit of work;
 * - the response finished (`end()`, onResponse), or
 * - its socket closed (`end()`): client abort, connection or request timeout, and also requests
 *   still queued behind others on a pipelined connection, whose response never even started.
 *
 * The socket is watched through one 'close' listener per socket (not per request: keep-alive and
 * pipelined connections carry many requests), with the live scopes of that socket in a Set.
 */
import type { IncomingMessage } from 'node:http'
import type { Socket } from 'node:net'
import { SessionClosedError } from '../errors'
import type { CancelSignal } from '../pool/checkout-signal'
import { CHECKED_IN } from '../pool/pooled-connection'
import type { Session } from '../session/session'

const kScopes = Symbol('fastify-db-session.scopes')

type WatchedSocket = Socket & { [kScopes]?: Set<RequestScope> }

interface ScopeLogger { error: (obj: object, msg: string) => void }

export class RequestScope implements CancelSignal {
  /** The request's sessions, by registration index. */
  readonly sessions: Array<Session | undefined> = []
  /** Registrations whose unit of work was given up because the reply was hijacked. */
  hijacked = 0
  #sealed = false
  #ended = false
  #reason: Error | undefined = undefined
  #listeners: Array<() => void> | undefined = undefined
  readonly #socket: WatchedSocket | null
  readonly #log: ScopeLogger

  constructor (raw: IncomingMessage | null, log: ScopeLogger) {
    this.#log = log
    const socket = (raw?.socket ?? null) as WatchedSocket | null
    this.#socket = socket
    if (socket === null || typeof socket.once !== 'function') return
    let scopes = socket[kScopes]
    if (scopes === undefined) {
      scopes = new Set()
      socket[kScopes] = scopes
      socket.once('close', endSocketScopes)
    }
    scopes.add(this)
  }

  /** No new session or statement may start: the request is over for the database. */
  get live (): boolean {
    return !this.#sealed && !this.#ended && this.#socket?.destroyed !== true
  }

  /** The client can no longer get an answer: the request ended or its socket is already destroyed. */
  get clientGone (): boolean {
    return this.#ended || this.#socket?.destroyed === true
  }

  // CancelSignal, so that a checkout waiting for the pool is abandoned when the request ends.
  get aborted (): boolean {
    return this.#ended
  }

  get reason (): Error {
    this.#reason ??= new SessionClosedError()
    return this.#reason
  }

  addEventListener (_type: 'abort', listener: () => void): void {
    (this.#listeners ??= []).push(listener)
  }

  removeEventListener (_type: 'abort', listener: () => void): void {
    const listeners = this.#listeners
    if (listeners === undefined) return
    const at = listeners.indexOf(listener)
    if (at !== -1) listeners.splice(at, 1)
  }

  /** The answer is decided: request.db may no longer be used (the sessions are closed by their owners). */
  seal (): void {
    this.#sealed = true
  }

  /**
   * The request is over: abandon pool waits, close every session (an open transaction rolls back,
   * a running statement is stopped), stop watching the socket. Idempotent.
   */
  end (): void {
    if (this.#ended) return
    this.#ended = true
    this.#sealed = true
    this.#socket?.[kScopes]?.delete(this)
    const listeners = this.#listeners
    if (listeners !== undefined) {
      this.#listeners = undefined
      for (const listener of listeners) listener()
    }
    for (const session of this.sessions) {
      if (session !== undefined && !session.closed) void closeQuietly(session, this.#log)
    }
  }
}

/** A scope for requests that ended before they touched the database: never live. */
export const ENDED_SCOPE: RequestScope = new RequestScope(null, { error () {} })
ENDED_SCOPE.end()

function endSocketScopes (this: WatchedSocket): void {
  const scopes = this[kScopes]
  if (scopes === undefined) return
  this[kScopes] = undefined
  for (const scope of scopes) scope.end()
}

/**
 * Closes a session; a failure to give the connection back is logged, never thrown at the request.
 * Undefined when the connection went back synchronously (reads only: close() returned
 * CHECKED_IN), so a hook can go on at once instead of after a promise hop.
 */
export function closeQuietly (session: Session, log: ScopeLogger): Promise<void> | undefined {
  let closing: Promise<void>
  try {
    closing = session.close()
  } catch (err) {
    logCloseFailure(log, err)
    return undefined
  }
  return closing === CHECKED_IN ? undefined : closing.catch((err: unknown) => { logCloseFailure(log, err) })
}

function logCloseFailure (log: ScopeLogger, err: unknown): void {
  log.error({ err }, 'Could not return the database connection')
}
