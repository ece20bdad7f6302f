/**
 * What Drizzle's mysql2 driver sees as its client. Drizzle calls `query()` / `execute()` for
 * statements, `getConnection()` for `db.transaction()` (then BEGIN / COMMIT / ROLLBACK and
 * SAVEPOINT as SQL on that connection, and `release()`), and `.connection.query().stream()` for
 * `iterator()`. The pool-like client runs each statement on the request's session, or on a
 * session of its own outside a request; the connection-like client is bound to one session and
 * turns Drizzle's transaction statements into the session's transaction, so that inside a
 * request's transaction Drizzle's BEGIN becomes a SAVEPOINT instead of an implicit COMMIT.
 */
import type { Readable } from 'node:stream'
import type { FieldPacket, QueryOptions, QueryResult, ResultSetHeader } from 'mysql2'
import type { Session } from '../session/session'
import { openTransaction, type OpenTransaction, type TransactionSettings } from './open-transaction'
import { rowStream } from './row-stream'
import { borrowSession, type SessionSource } from './session-source'

type Sql = string | QueryOptions
type Result = [QueryResult, FieldPacket[]]

const SET_TRANSACTION = /^\s*set\s+transaction\s+isolation\s+level\s+(.+?)\s*;?\s*$/i
const BEGIN = /^\s*(?:begin|start\s+transaction)\b(.*?)\s*;?\s*$/i
const COMMIT = /^\s*commit\s*;?\s*$/i
const ROLLBACK = /^\s*rollback\s*;?\s*$/i

const textOf = (sql: Sql): string => typeof sql === 'string' ? sql : sql.sql

/** What a transaction-control statement answers (Drizzle ignores it). */
function okPacket (): Result {
  const header = { affectedRows: 0, insertId: 0, fieldCount: 0, info: '', serverStatus: 0, warningStatus: 0, changedRows: 0 }
  return [header as ResultSetHeader, []]
}

/** A Drizzle "connection": one session, with Drizzle's transaction statements mapped onto it. */
export class SessionConnectionClient {
  readonly #session: Session
  readonly #owned: boolean
  #transaction: OpenTransaction | undefined = undefined
  #settings: TransactionSettings = {}

  constructor (session: Session, owned: boolean) {
    this.#session = session
    this.#owned = owned
  }

  async query (sql: Sql, values?: unknown[]): Promise<Result> {
    const text = textOf(sql)
    let m: RegExpExecArray | null
    if ((m = SET_TRANSACTION.exec(text)) !== null) {
      this.#settings.isolationLevel = m[1] // validated by openTransaction
      return okPacket()
    }
    if ((m = BEGIN.exec(text)) !== null) {
      const mode = m[1].toLowerCase()
      const settings = { ...this.#settings, readOnly: /read\s+only/.test(mode) ? true : /read\s+write/.test(mode) ? false : undefined }
      this.#settings = {}
      this.#transaction = await openTransaction(this.#session, settings)
      return okPacket()
    }
    if (this.#transaction !== undefined && (COMMIT.test(text) || ROLLBACK.test(text))) {
      const transaction = this.#transaction
      this.#transaction = undefined
      await (COMMIT.test(text) ? transaction.commit() : transaction.rollback())
      return okPacket()
    }
    return this.#session.query(sql, values as never)
  }

  execute (sql: Sql, values?: unknown[]): Promise<Result> {
    return this.#session.execute(sql, values as never)
  }

  /** Drizzle calls this (without awaiting) after its transaction. */
  release (): void {
    if (this.#owned) void this.#session.close().catch(() => undefined)
  }

  /** For Drizzle's `iterator()`: the streaming side of the "connection". */
  get connection (): { query: (sql: Sql, values?: unknown[]) => { stream: () => Readable }, end: () => void } {
    return {
      query: (sql, values) => ({ stream: () => stopWhenAbandoned(rowStream(this.#session, sql, values) as Readable) }),
      end: () => this.release()
    }
  }
}

/**
 * Drizzle's iterator reads with 'data' listeners and, when the loop stops early, only takes its
 * listener off (`stream.off('data', …)`): the statement would stay open behind a paused stream,
 * holding the session's connection and every later statement on it. Once the last 'data' listener
 * of a stream that has not ended is taken off, the stream is destroyed, which stops the statement.
 */
function stopWhenAbandoned (stream: Readable): Readable {
  const off = stream.off
  stream.off = function offAndMaybeStop (this: Readable, event: string | symbol, listener: (...args: unknown[]) => void): Readable {
    off.call(this, event, listener)
    if (event === 'data' && this.listenerCount('data') === 0 && !this.readableEnded) this.destroy()
    return this
  }
  return stream
}

/** Drizzle's "pool": every statement on the request's session, or on one of its own outside a request. */
export class SessionSourceClient {
  readonly #source: SessionSource

  constructor (source: SessionSource) {
    this.#source = source
  }

  query (sql: Sql, values?: unknown[]): Promise<Result> {
    return this.#run((session) => session.query(sql, values as never))
  }

  execute (sql: Sql, values?: unknown[]): Promise<Result> {
    return this.#run((session) => session.execute(sql, values as never))
  }

  /** `db.transaction()` and `iterator()`: one session for the whole unit. */
  async getConnection (): Promise<SessionConnectionClient> {
    const { session, owned } = borrowSession(this.#source)
    return new SessionConnectionClient(session, owned)
  }

  async #run (work: (session: Session) => Promise<Result>): Promise<Result> {
    const { session, owned } = borrowSession(this.#source)
    if (!owned) return work(session)
    try {
      return await work(session)
    } finally {
      await session.close()
    }
  }
}
