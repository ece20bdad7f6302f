/**
 * The short-lived handle `pool.connect()` returns (SQLAlchemy's `_ConnectionFairy`). It forwards
 * `query`/`execute` to the mysql2 connection while keeping what the pool needs to return it safely:
 * whether a statement is in flight (then the connection is destroyed, not reused), whether any
 * statement could have left state behind (else the reset on return is skipped), and whether a
 * disconnect was seen (then the slot is freed at once and the pool marked for invalidation).
 */
import type { ExecuteValues, FieldPacket, QueryOptions, QueryResult, QueryValues } from 'mysql2'
import { ConnectionInvalidatedError } from '../errors'
import type { ConnectionRecord } from './connection-record'
import type { LeakWatch } from './leak-watch'
import { coreOf, isDisconnectError, isPoisoningError, type CoreConnection, type DriverConnection } from './driver'

/** What a handle needs from its pool; implemented by Pool. */
export interface HandleOwner {
  /** Returns the handle's slot: reset, then check in. */
  checkin: (handle: PooledConnection, record: ConnectionRecord, state: HandleState) => Promise<void> | undefined
  /** Drops the handle's connection and frees its slot now; `poolWide` also marks older connections stale. */
  invalidate: (record: ConnectionRecord, err: unknown, poolWide: boolean, handle?: PooledConnection) => void
  /** Stops the statement running on the slot's connection (KILL QUERY); false when it could not. */
  killStatement: (record: ConnectionRecord) => Promise<boolean>
}

/** A statement driven on the raw connection (a streamed query), tracked as in flight until `settled`. */
export interface ExternalStatement {
  /** mysql2's callback connection under the promise wrapper. */
  readonly core: CoreConnection
  /** The statement finished (or failed with `err`); idempotent. */
  settled: (err?: unknown) => void
}

/** What the handle tells the pool when it is returned. */
export interface HandleState {
  /** Statements still running: the connection cannot be reset, only destroyed. */
  inFlight: number
  /** Some statement may have opened a transaction or changed session state. */
  dirty: boolean
  /** Any statement ran at all. */
  used: boolean
  /** Roll back whatever the reset mode says: the owner closed it inside a transaction. */
  forceRollback: boolean
  /** What a statement still in flight is failed with when the connection is destroyed. */
  abortReason: Error | undefined
}

// A plain read cannot open a transaction in autocommit mode, so after only these the ROLLBACK on
// return is a wasted round trip. Anything else (including a leading comment) counts as dirty.
const READ_ONLY_STATEMENT = /^\s*(?:select|show|describe|desc|explain)\b/i

type Sql = string | QueryOptions
/**
 * What close() returns when the connection went back to the pool synchronously (nothing to reset):
 * a caller may compare with it to go on without a promise hop.
 */
export const CHECKED_IN: Promise<void> = Promise.resolve()
const RESOLVED = CHECKED_IN

export class PooledConnection {
  #owner: HandleOwner
  #record: ConnectionRecord | null
  #conn: DriverConnection | null
  #inFlight = 0
  #dirty = false
  #used = false
  #closing: Promise<void> | undefined = undefined
  #onIdle: (() => void) | undefined = undefined
  /** Leak detection for this checkout, set by the pool when `leakDetectionThreshold` is on. */
  leak: LeakWatch | undefined = undefined
  /** performance.now() at checkout. */
  readonly checkedOutAt: number

  constructor (owner: HandleOwner, record: ConnectionRecord, checkedOutAt: number) {
    this.#owner = owner
    this.#record = record
    this.#conn = record.connection
    this.checkedOutAt = checkedOutAt
  }

  /**
   * The raw mysql2/promise connection. Using it directly hides statements from the pool, so the
   * handle is then treated as dirty and fully reset on return.
   */
  get connection (): DriverConnection {
    const conn = this.#live()
    this.#dirty = true
    this.#used = true
    return conn
  }

  /** The pool this connection came from (a session on a replica router reports the replica's). */
  get owner (): HandleOwner {
    return this.#owner
  }

  /** The slot this handle holds; null once closed or invalidated. */
  get record (): ConnectionRecord | null {
    return this.#record
  }

  /** False once the handle was closed or its connection invalidated. */
  get isValid (): boolean {
    return this.#record !== null && this.#closing === undefined
  }

  /** Statements currently running on this handle. */
  get inFlight (): number {
    return this.#inFlight
  }

  /** Same signature and result shape as mysql2/promise `query`. */
  query<T extends QueryResult = QueryResult> (sql: Sql, values?: QueryValues): Promise<[T, FieldPacket[]]> {
    return this.#run<T>('query', sql, values)
  }

  /** Same signature and result shape as mysql2/promise `execute` (prepared statements). */
  execute<T extends QueryResult = QueryResult> (sql: Sql, values?: ExecuteValues): Promise<[T, FieldPacket[]]> {
    return this.#run<T>('execute', sql, values)
  }

  /**
   * Runs one statement, tracking it as in flight and reacting to a dead connection. It drives
   * mysql2's callback connection under the promise wrapper: the wrapper would add a promise and
   * capture a stack trace (new Error()) for every statement, a cost paid on every request. The
   * error is mysql2's own, with its code, errno, sqlState, sqlMessage and `fatal`. A connection
   * whose `query`/`execute` were wrapped (the cluster's hooks watch results and errors that way,
   * and so may a `connectionSource`) keeps going through its wrapper.
   */
  #run<T extends QueryResult> (method: 'query' | 'execute', sql: Sql, values: unknown): Promise<[T, FieldPacket[]]> {
    const conn = this.#conn
    if (conn === null) return Promise.reject(new ConnectionInvalidatedError())
    this.#note(sql)
    this.#inFlight++
    if (Object.hasOwn(conn, method)) return this.#runWrapped<T>(conn, method, sql, values)
    return new Promise<[T, FieldPacket[]]>((resolve, reject) => {
      let called = false
      const done = (err: Error | null, rows?: unknown, fields?: unknown): void => {
        if (called) return // mysql2 may notify a command again while failing the connection
        called = true
        if (err === null || err === undefined) {
          this.#settled(null)
          resolve([rows as T, fields as FieldPacket[]])
          return
        }
        // Not from inside mysql2's error handling: dropping the connection there would re-enter
        // it. The drop still runs before the caller sees the rejection.
        queueMicrotask(() => this.#settled(err))
        reject(err)
      }
      try {
        const core = coreOf(conn)
        const call = core[method]
        if (values === undefined) call.call(core, sql, done)
        else call.call(core, sql, values, done)
      } catch (err) {
        // mysql2 throws synchronously for some bad arguments (e.g. undefined bind values).
        done(err as Error)
      }
    })
  }

  #runWrapped<T extends QueryResult> (conn: DriverConnection, method: 'query' | 'execute', sql: Sql, values: unknown): Promise<[T, FieldPacket[]]> {
    let call: Promise<[T, FieldPacket[]]>
    try {
      const statement = conn[method] as (this: DriverConnection, sql: Sql, values?: unknown) => Promise<[T, FieldPacket[]]>
      call = values === undefined ? statement.call(conn, sql) : statement.call(conn, sql, values)
    } catch (err) {
      call = Promise.reject(err)
    }
    return call.then((result) => {
      this.#settled(null)
      return result
    }, (err: unknown) => {
      this.#settled(err)
      throw err
    })
  }

  /** A statement ended: a dead connection is dropped, and whoever waits for the handle to go idle is told. */
  #settled (err: unknown): void {
    if (err !== null && err !== undefined) this.#failed(err)
    if (--this.#inFlight === 0 && this.#onIdle !== undefined) this.#onIdle()
  }

  /**
   * For statements the caller drives on the raw connection (streamed queries): counted as in flight
   * like query()/execute() until `settled()`, so the pool interrupts rather than reuses a
   * connection given back while one still runs.
   */
  startStatement (sql: string): ExternalStatement {
    const conn = this.#live()
    this.#note(sql)
    this.#inFlight++
    let done = false
    return {
      core: coreOf(conn),
      settled: (err?: unknown) => {
        if (done) return
        done = true
        this.#settled(err)
      }
    }
  }

  /** Stops this handle's running statement with KILL QUERY (a side connection); false if it could not. */
  interrupt (): Promise<boolean> {
    const record = this.#record
    return record === null ? Promise.resolve(false) : this.#owner.killStatement(record)
  }

  /**
   * Returns the connection to the pool (after the reset on return). Idempotent: later calls
   * return the same promise. If a statement is still running, the connection is destroyed.
   */
  close (options?: { rollback?: boolean, abortReason?: Error }): Promise<void> {
    if (this.#closing !== undefined) return this.#closing
    const record = this.#record
    if (record === null) {
      this.#closing = RESOLVED
      return RESOLVED
    }
    this.#record = null
    this.#conn = null
    this.#closing = this.#owner.checkin(this, record, {
      inFlight: this.#inFlight,
      dirty: this.#dirty,
      used: this.#used,
      forceRollback: options?.rollback === true,
      abortReason: options?.abortReason
    }) ?? RESOLVED
    return this.#closing
  }

  /**
   * The owner (a Session) just committed or rolled back successfully: no transaction is open, so
   * a ROLLBACK on return would be a wasted round trip (SQLAlchemy's `transaction_was_reset`).
   */
  transactionEnded (): void {
    this.#dirty = false
  }

  /** Resolves once no statement is running on this handle. */
  whenIdle (): Promise<void> {
    if (this.#inFlight === 0) return RESOLVED
    return new Promise((resolve) => {
      const previous = this.#onIdle
      this.#onIdle = () => {
        this.#onIdle = undefined
        previous?.()
        resolve()
      }
    })
  }

  /** Discards the database connection now and frees the slot; the handle is unusable afterwards. */
  invalidate (err?: unknown): void {
    this.#drop(err, false)
  }

  async [Symbol.asyncDispose] (): Promise<void> {
    await this.close()
  }

  #live (): DriverConnection {
    if (this.#conn === null) throw new ConnectionInvalidatedError()
    return this.#conn
  }

  #note (sql: Sql): void {
    this.#used = true
    if (this.#dirty) return
    const text = typeof sql === 'string' ? sql : sql.sql
    if (this.#record?.readsAreClean !== true || !READ_ONLY_STATEMENT.test(text)) this.#dirty = true
  }

  #failed (err: unknown): void {
    if (isDisconnectError(err)) this.#drop(err, true)
    else if (isPoisoningError(err)) this.#drop(err, false)
  }

  #drop (err: unknown, poolWide: boolean): void {
    const record = this.#record
    if (record === null || this.#closing !== undefined) return
    this.#record = null
    this.#conn = null
    this.#closing = RESOLVED
    this.#owner.invalidate(record, err, poolWide, this)
    this.leak?.cancel()
  }
}
