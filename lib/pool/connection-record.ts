/**
 * A slot of a pool (SQLAlchemy's `_ConnectionRecord`): long-lived, owns at most one database
 * connection at a time and reconnects lazily when that connection was dropped or recycled.
 */
import type { DriverConnection } from './driver'

let nextId = 1

export class ConnectionRecord {
  /** Process-unique id, for logs. */
  readonly id = nextId++
  /** The live connection, or null when dropped (reconnected at the next checkout). */
  connection: DriverConnection | null = null
  /** performance.now() when the connection was opened. */
  createdAt = 0
  /** performance.now() after which the connection is recycled (recycle minus jitter); Infinity = never. */
  expiresAt = Infinity
  /** performance.now() of the last return; used by the pre-ping bypass window. */
  lastUsedAt = 0
  /** The pool's invalidation generation when the connection was opened. */
  generation = 0
  /** The pool's dispose epoch when the slot was made; a slot from an older epoch is closed on return. */
  epoch = 0
  /** Just (re)connected and not yet handed out: skip the pre-ping (SQLAlchemy #4524). */
  fresh = false
  /** The connection reported an error or end; it must not be handed out again. */
  broken = false
  /** Handles currently holding this slot (more than one only in StaticPool). */
  holders = 0
  /**
   * After only plain reads, this connection has no transaction to roll back: autocommit was on at
   * handshake and one query() runs one statement (no multipleStatements).
   */
  readsAreClean = false
  /** performance.now() when the checkout now claiming this slot began; 0 = not measured (a synchronous hand-out). */
  waitSince = 0
  /** Detaches the error/end listeners of the current connection. */
  unwatch: (() => void) | null = null
}
