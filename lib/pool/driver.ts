/**
 * Everything the pools know about mysql2: how to tell a dead connection, and how to run a driver
 * call with a deadline. mysql2 gives `ping()`, `reset()`, `query()` and `end()` no timeout of their
 * own, so a call to a black-holed server would hang forever; every call the pool makes goes
 * through `withDeadline`, and a connection whose call timed out is destroyed, never reused.
 */
import type { Connection } from 'mysql2/promise'
import type { EventEmitter } from 'node:events'
import { DbError, DriverTimeoutError } from '../errors'

/** What a pool's creator must produce: a mysql2/promise connection. */
export type DriverConnection = Connection

/** mysql2's callback for a statement on the core connection. */
export type StatementCallback = (err: Error | null, rows?: unknown, fields?: unknown) => void
/** `(sql, done)` or `(sql, values, done)`. */
type CoreStatement = (sql: unknown, valuesOrDone: unknown, done?: StatementCallback) => unknown

/** The callback connection under the promise wrapper; mysql2 types omit it, so we name what we use. */
export interface CoreConnection extends EventEmitter {
  query: CoreStatement
  execute: CoreStatement
  state?: string
  threadId: number | null
  config?: { multipleStatements?: boolean }
  stream?: { remoteAddress?: string, remotePort?: number, destroy?: () => void }
  _fatalError?: unknown
  _handshakePacket?: { statusFlags?: number } | null
}

/** Where the connection's socket goes, e.g. `127.0.0.1:3306`; undefined once it is gone. */
export function endpointOf (conn: DriverConnection): string | undefined {
  const stream = coreOf(conn).stream
  return stream?.remoteAddress === undefined ? undefined : `${stream.remoteAddress}:${stream.remotePort ?? ''}`
}

/** The server said autocommit is on at handshake (SERVER_STATUS_AUTOCOMMIT); then a plain read opens no transaction. */
export function startsInAutocommit (conn: DriverConnection): boolean {
  const flags = coreOf(conn)._handshakePacket?.statusFlags
  return flags === undefined || (flags & 0x2) !== 0
}

export function coreOf (conn: DriverConnection): CoreConnection {
  return (conn as unknown as { connection: CoreConnection }).connection
}

const DISCONNECT_CODES = new Set([
  'PROTOCOL_CONNECTION_LOST', 'ECONNRESET', 'EPIPE', 'ETIMEDOUT', 'ECONNREFUSED', 'EHOSTUNREACH',
  'ENETUNREACH', 'ECONNABORTED', 'PROTOCOL_ERROR', 'PROTOCOL_UNEXPECTED_PACKET', 'ER_SERVER_SHUTDOWN',
  'ER_CLIENT_INTERACTION_TIMEOUT'
])
// Server errnos that mean the session is gone: shutdown, network read/write errors, killed
// connection (1927), MySQL's idle-timeout ERR packet (4031), server switched to read-only after a
// failover (1836). Not 1792 (a write inside START TRANSACTION READ ONLY): that is the app's error.
const DISCONNECT_ERRNOS = new Set([1053, 1158, 1159, 1160, 1161, 1927, 4031, 1836])

interface DriverErrorShape { fatal?: unknown, code?: unknown, errno?: unknown }

/**
 * mysql2's way of saying "this connection is dead" (SQLAlchemy's `is_disconnect`). mysql2 never
 * produces libmysqlclient's 2006/2013; it sets `fatal` and a code, and numeric codes for
 * unsolicited ERR packets such as 4031.
 */
export function isDisconnectError (err: unknown): boolean {
  // Our own errors (e.g. the reason an abandoned statement was failed with) are never the server's.
  if (err === null || typeof err !== 'object' || err instanceof DbError) return false
  const e = err as DriverErrorShape
  if (e.fatal === true) return true
  if (typeof e.code === 'string' && DISCONNECT_CODES.has(e.code)) return true
  if (typeof e.code === 'number' && DISCONNECT_ERRNOS.has(e.code)) return true
  return typeof e.errno === 'number' && DISCONNECT_ERRNOS.has(e.errno)
}

/**
 * Errors after which the connection must not be reused although the server is fine: mysql2's
 * per-query `timeout` leaves the statement running server-side, so later commands queue behind it.
 */
export function isPoisoningError (err: unknown): boolean {
  if (err instanceof DriverTimeoutError) return true
  return err !== null && typeof err === 'object' && (err as DriverErrorShape).code === 'PROTOCOL_SEQUENCE_TIMEOUT'
}

/** True while the socket is up and mysql2 has not marked the connection broken. */
export function isConnectionUsable (conn: DriverConnection): boolean {
  const core = coreOf(conn)
  return core.state === 'authenticated' && core._fatalError == null
}

/**
 * Runs a driver call with a deadline. On expiry `onExpire` runs (the caller destroys the
 * connection, which also settles the hung call) and the returned promise rejects with
 * DriverTimeoutError.
 */
export function withDeadline<T> (call: Promise<T>, ms: number, operation: string, onExpire: () => void): Promise<T> {
  if (!Number.isFinite(ms)) return call
  return new Promise<T>((resolve, reject) => {
    let expired = false
    const timer = setTimeout(() => {
      expired = true
      try { onExpire() } finally { reject(new DriverTimeoutError(operation, ms)) }
    }, ms)
    call.then((value) => {
      clearTimeout(timer)
      if (!expired) resolve(value)
    }, (err: unknown) => {
      clearTimeout(timer)
      if (!expired) reject(err)
    })
  })
}

interface CoreInternals { _command?: unknown, _fatalError?: unknown, _handleFatalError?: (err: Error) => void }

/**
 * Hard close: drops the socket at once (no COM_QUIT); never throws. mysql2's destroy() only
 * half-closes and stops listening, so a statement in flight would never settle and its caller
 * would hang forever: with a `reason`, pending statements are failed with it first.
 */
export function destroyConnection (conn: DriverConnection, reason?: Error): void {
  const core = coreOf(conn) as CoreConnection & CoreInternals
  if (reason !== undefined && core._command != null && core._fatalError == null && typeof core._handleFatalError === 'function') {
    try {
      core._handleFatalError(reason)
    } catch {
      // Closing anyway.
    }
  }
  try {
    conn.destroy()
    // destroy() only half-closes (FIN) and waits for the server's side; against a black-holed
    // server that keeps the socket, and the process, alive for minutes.
    core.stream?.destroy?.()
  } catch {
    // Already closed: nothing left to release.
  }
}

/** Graceful close (COM_QUIT) of a healthy connection, falling back to destroy after `ms`. */
export async function endConnection (conn: DriverConnection, ms: number): Promise<void> {
  if (!isConnectionUsable(conn)) {
    destroyConnection(conn)
    return
  }
  try {
    await withDeadline(conn.end(), ms, 'close', () => destroyConnection(conn))
  } catch {
    destroyConnection(conn)
  }
}
