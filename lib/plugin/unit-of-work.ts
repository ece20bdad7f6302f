/**
 * The end of a request's work on one registration's session, run by the plugin's onSend hook, which
 * is the last onSend hook of every route (added at route registration): every other onSend hook —
 * app-level or route-level, before or after the plugin — has run and succeeded by then, so a
 * commit never stands behind an error answer, and a 2xx/3xx is only sent after the commit.
 */
import type { FastifyReply, FastifyRequest } from 'fastify'
import { CommitFailedError, TransactionConflictError } from '../errors'
import type { Session } from '../session/session'
import { stopHandlerTimeout } from './handler-timeout'
import { closeQuietly, type RequestScope } from './request-scope'
import { commitWhenStreamed } from './streamed-response'

/**
 * endOfHandler, without a promise when nothing is left to wait for: a session outside a unit of
 * work, with no statement running or streaming, is closed at once, and after reads only
 * (closeQuietly returns undefined) the response goes on without a promise hop. Undefined: done.
 */
export function endOfHandlerNow (session: Session, failed: boolean, request: FastifyRequest): Promise<void> | undefined {
  if (session.isUnitOfWork || session.busy || session.streaming) return endOfHandler(session, failed, request)
  return closeQuietly(session, request.log)
}

/**
 * The handler settled. A unit of work commits if nothing failed, else rolls back; a failed commit
 * throws, which Fastify turns into an error response (never a 2xx).
 */
export async function endOfHandler (session: Session, failed: boolean, request: FastifyRequest): Promise<void> {
  if (session.streaming) {
    // The response is (fed by) a stream still reading: the response's end closes the session.
    if (session.isUnitOfWork && !failed) commitWhenStreamed(session, request)
    return
  }
  if (session.busy) {
    if (failed) {
      // Handler timeout (or an error while a statement runs): the session closes now, so the
      // handler can't reach the connection again; the pool interrupts the statement and resets
      // the connection in the background, and the error response does not wait for that.
      void closeQuietly(session, request.log)
      return
    }
    // The handler returned while a statement it started is still running: that statement is
    // part of the request's work, so it finishes before the commit and the response.
    await session.whenIdle()
  }
  // Closing rolls back an open transaction; it is awaited so the connection is back in the pool
  // (and the pool stats in the log line are settled) before the response goes out. When no reset
  // is needed (reads only) this completes synchronously.
  if (!session.isUnitOfWork || failed) {
    await closeQuietly(session, request.log)
    return
  }
  // The handler met its deadline: a handlerTimeout firing during the commit must not answer 503
  // over committed work.
  stopHandlerTimeout(request)
  try {
    // Also when no transaction is open: commit() throws PendingRollbackError if the unit of work
    // lost its transaction (disconnect, deadlock) and the handler carried on: never a 2xx then.
    await session.commit()
  } catch (err) {
    await closeQuietly(session, request.log)
    // A deadlock or Galera certification failure on COMMIT stays a retryable 503.
    throw err instanceof CommitFailedError || err instanceof TransactionConflictError ? err : new CommitFailedError(err)
  }
  await closeQuietly(session, request.log)
}

/**
 * Hijack on a unit-of-work route: the handler then writes the response itself, so the plugin can
 * no longer commit before it. The rule: `reply.hijack()` with uncommitted work throws
 * TransactionStateError (the handler fails, the work rolls back: never a 2xx over a rolled-back
 * write); with nothing uncommitted it proceeds, and the session runs in autocommit from then on.
 * Commit first (`await request.db.commit()`), then hijack.
 */
export function guardHijack (reply: FastifyReply, scopeOf: (request: FastifyRequest) => RequestScope, index: number): void {
  const hijack = reply.hijack
  reply.hijack = function guardedHijack (this: FastifyReply): FastifyReply {
    const scope = scopeOf(this.request)
    const session = scope.sessions[index]
    // Check before anything changes: with several registrations on a route each wraps hijack,
    // and a refusal further in must not find this session already out of its unit of work.
    session?.assertNoUncommittedWork()
    const hijacked = hijack.call(this) // the other registrations' checks and the real hijack
    session?.leaveUnitOfWork() // checked above, nothing ran since that could begin a transaction
    scope.hijacked |= 1 << index
    return hijacked
  }
}
