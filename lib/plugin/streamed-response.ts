/**
 * A handler that answers with `request.db.stream(...)` (or a pipeline fed by one) returns before a
 * single row was read, so the session can't be finished in onSend: waiting there for the statement
 * would wait for a response that is only written after onSend. The session stays open until the
 * response ends; its 'close' closes the session (an unfinished stream is stopped with KILL QUERY
 * and the connection reset). A unit of work commits once the response was fully written
 * ('finish'), before that 'close' gives the connection back; a client that went away first gets
 * a rollback. A failed commit can then only be logged: the status line is long gone.
 */
import type { FastifyReply, FastifyRequest } from 'fastify'
import type { Session } from '../session/session'

export function commitWhenSent (session: Session, request: FastifyRequest, reply: FastifyReply): void {
  reply.raw.once('finish', () => {
    session.commit().catch((err: unknown) => {
      request.log.error({ err }, 'The transaction of a streamed response could not be committed; it was rolled back')
    })
  })
}
