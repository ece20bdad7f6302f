/**
 * `session.stream(sql, values?, options?)`: the rows of one statement as an object-mode Readable
 * (async-iterable), read with mysql2's streaming query: each row is pushed as it is parsed, and
 * when the consumer falls behind (`push()` returns false) the connection's socket is paused, so the
 * server blocks on a full TCP window instead of the process buffering the result; `_read()`
 * resumes it. Memory stays at about `highWaterMark` rows whatever the result size.
 *
 * The statement counts as in flight on the pooled connection until the server has finished it, so
 * the pool never hands out or resets a connection that is still streaming: a session closed
 * mid-stream (client abort, handler timeout) makes the pool KILL QUERY and reset the connection
 * (or destroy it). A stream destroyed by its consumer while the session lives on (`break` out of a
 * `for await`) stops the statement itself with KILL QUERY and discards what was already on its way,
 * so the session's next statement runs on a quiet connection.
 */
import { Readable } from 'node:stream'
import type { QueryOptions, QueryValues, RowDataPacket } from 'mysql2'
import { boolean, integer, rejectUnknown } from '../pool/options'
import type { PooledConnection } from '../pool/pooled-connection'

export interface StreamOptions {
  /** Rows buffered before the socket is paused (Node's object-mode highWaterMark); default 100. */
  highWaterMark?: number
  /** mysql2's `rowsAsArray`: each row an array instead of an object (cheaper for CSV). */
  rowsAsArray?: boolean
}

/** An object-mode Readable of rows; `for await (const row of stream)` works. */
export interface RowStream<T = RowDataPacket> extends Readable {
  [Symbol.asyncIterator]: () => NodeJS.AsyncIterator<T>
}

/** What the stream needs from its session. */
export interface StreamSource {
  /** The session's connection (taken from the pool, inside the unit of work's transaction). */
  connection: () => Promise<PooledConnection>
  /** Driver error → the session's coded error (QueryError, DisconnectedError, SessionClosedError). */
  translate: (err: unknown) => Error
  /** The session is closing: the pool stops the statement then, not the stream. */
  closed: () => boolean
}

/** The parts of mysql2's callback connection and Query command a stream drives. */
interface StreamingQuery {
  on: (event: string, listener: (...args: unknown[]) => void) => unknown
  removeAllListeners: (event: string) => unknown
}
interface StreamingCore {
  query: (options: QueryOptions, values?: QueryValues) => StreamingQuery
  pause: () => void
  resume: () => void
  on: (event: string, listener: (err?: unknown) => void) => unknown
  off: (event: string, listener: (err?: unknown) => void) => unknown
}

const DEFAULT_HIGH_WATER_MARK = 100

export function resolveStreamOptions (options: StreamOptions | undefined): Required<StreamOptions> {
  if (options === undefined) return { highWaterMark: DEFAULT_HIGH_WATER_MARK, rowsAsArray: false }
  rejectUnknown('stream', options, ['highWaterMark', 'rowsAsArray'])
  return {
    highWaterMark: options.highWaterMark === undefined ? DEFAULT_HIGH_WATER_MARK : integer('stream.highWaterMark', options.highWaterMark, 1),
    rowsAsArray: options.rowsAsArray === undefined ? false : boolean('stream.rowsAsArray', options.rowsAsArray)
  }
}

export function openRowStream<T> (source: StreamSource, sql: string | QueryOptions, values: QueryValues | undefined, options?: StreamOptions): RowStream<T> {
  const opts = resolveStreamOptions(options)
  let handle: PooledConnection | null = null
  let core: StreamingCore | null = null
  let paused = false
  /** The statement has not finished on the server yet. */
  let running = false

  const readable = new Readable({
    objectMode: true,
    highWaterMark: opts.highWaterMark,
    read () {
      if (paused && core !== null) {
        paused = false
        core.resume()
      }
    },
    destroy (err, callback) {
      if (running && core !== null) {
        // Nobody reads any more: let the socket flow again (rows are dropped, listeners are gone)
        // so the statement's end, or its KILL error, can arrive.
        paused = false
        core.resume()
        // Consumer left early: stop the statement. When the session is closing, the pool does it.
        if (!source.closed() && handle !== null) void handle.interrupt()
      }
      callback(err)
    }
  }) as RowStream<T>

  const start = async (): Promise<void> => {
    const conn = await source.connection()
    if (readable.destroyed) return
    handle = conn
    const query = conn.startStatement(typeof sql === 'string' ? sql : sql.sql)
    const c = query.core as unknown as StreamingCore
    core = c
    running = true
    let settled = false
    const settle = (err?: unknown): void => {
      if (settled) return
      settled = true
      running = false
      c.off('error', onFatal)
      c.off('end', onGone)
      cmd.removeAllListeners('result')
      if (paused) {
        paused = false
        c.resume()
      }
      query.settled(err)
      if (readable.destroyed) return
      if (err === undefined) readable.push(null)
      else readable.destroy(source.translate(err))
    }
    // A fatal error or the socket's end: mysql2 reports them from inside its own error handling, and
    // settling there (which drops the connection) would re-enter it, so they settle just after.
    const onGone = (): void => { queueMicrotask(() => settle(new Error('Connection ended during a streamed statement'))) }
    const onFatal = (err: unknown): void => { queueMicrotask(() => settle(err)) }
    const cmd = c.query({ ...(typeof sql === 'string' ? { sql } : sql), rowsAsArray: opts.rowsAsArray }, values)
    cmd.on('result', (row) => {
      if (!readable.destroyed && !readable.push(row) && !paused) {
        paused = true
        c.pause()
      }
    })
    cmd.on('fields', (fields) => { if (!readable.destroyed) readable.emit('fields', fields) })
    // A statement's own error (not fatal: the connection stays) settles at once, before the 'end' that follows it.
    cmd.on('error', (err) => settle(err ?? new Error('Streamed statement failed')))
    cmd.on('end', () => settle())
    // A fatal error (socket gone, connection destroyed) is not told to a command without a
    // callback: it reaches the connection's 'error'/'end' instead.
    c.on('error', onFatal)
    c.on('end', onGone)
  }
  start().catch((err: unknown) => { if (!readable.destroyed) readable.destroy(source.translate(err)) })
  return readable
}
