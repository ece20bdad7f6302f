/**
 * A handler that answers with `request.db.stream(...)` (or a pipeline fed by one) returns before a
 * single row was read, so the session can't be finished in onSend: waiting there for the statement
 * would wait for a response that is only written after onSend. The session stays open until the
 * response ends (onResponse, or the response's 'close' on an abort, closes it; an unfinished
 * stream is then stopped with KILL QUERY and the connection reset). A unit of work commits as soon
 * as its streams were read to the end, just before the last bytes go out (close() lets that
 * COMMIT finish); a stream that fails or a client that leaves first gets a rollback. A failed
 * commit can only be logged (and the connection's response cut): the status line is long gone.
 */
import type { FastifyRequest } from 'fastify'
import type { Session } from '../session/session'

export function commitWhenStreamed (session: Session, request: FastifyRequest): void {
  session.commitAfterStreams((err) => {
    request.log.error({ err }, 'The transaction of a streamed response could not be committed; it was rolled back')
    request.raw.destroy() // cuts the response: the client must not take a complete-looking response for a committed one
  })
}
