/**
 * Rows of one statement, streamed on a session with back-pressure: the builders' `stream()` /
 * `iterator()` go through the session's own `stream()`, so the statement is stopped and the
 * connection returned when the request ends first.
 */
import type { Readable } from 'node:stream'
import type { QueryOptions } from 'mysql2'
import type { Session } from '../session/session'

type Sql = string | QueryOptions

interface StreamingSession {
  stream?: (sql: Sql, values?: unknown[], options?: { rowsAsArray?: boolean }) => Readable
}

export function rowStream (session: Session, sql: Sql, values: unknown[] | undefined): AsyncIterable<unknown> {
  const stream = (session as unknown as StreamingSession).stream
  if (typeof stream !== 'function') throw new Error('Streaming needs Session.stream(), which this version of fastify-db-session lacks')
  // Drizzle asks for array rows in its query options; the stream takes that as an option of its own.
  const asArrays = typeof sql === 'object' && sql.rowsAsArray === true
  return stream.call(session, sql, values, asArrays ? { rowsAsArray: true } : undefined)
}
