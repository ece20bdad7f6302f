/**
 * A unit of work on one pooled connection, the equivalent of a SQLAlchemy `Session` yielded by
 * FastAPI's `get_db`: it takes a connection on its first statement (never before), keeps it
 * until close(), and gives it back exactly once. After close() every use throws
 * SessionClosedError, so a handler still running after its request ended (abort, handler
 * timeout) can never reach a connection that was returned to the pool.
 */
import { performance } from 'node:perf_hooks'
import type { ExecuteValues, FieldPacket, QueryOptions, QueryResult, QueryValues, RowDataPacket } from 'mysql2'
import {
  ConnectionInvalidatedError, DbError, DisconnectedError, PendingRollbackError, QueryError, SessionClosedError, TransactionConflictError, TransactionStateError
} from '../errors'
import type { Pool } from '../pool/base-pool'
import type { CancelSignal } from '../pool/checkout-signal'
import { isDisconnectError, isPoisoningError } from '../pool/driver'
import { defaultLogger, type PoolLogger } from '../pool/logger'
import { CHECKED_IN, type PooledConnection } from '../pool/pooled-connection'
import { runWithRetries, serverConflict } from './retry'
import { openRowStream, type RowStream, type StreamOptions } from './stream'
import {
  PLAIN_TRANSACTION, resolveRunOptions, resolveTransactionOptions,
  type ResolvedTransaction, type TransactionOptions, type TransactionRunOptions
} from './transaction-options'
import { publishSessionAcquired, publishSessionReleased, sessionChannels } from '../observe/channels'

/** Where a session takes its connection: a pool, or a router picking one (a replica or the primary). */
export type CheckoutSource = Pick<Pool, 'connect'> & Partial<Pick<Pool, 'connectNow'>>

export interface SessionOptions {
  /**
   * Unit of work: a transaction is begun before the first statement (and again after each
   * commit()/rollback()); close() rolls back whatever was not committed. An options object sets
   * the isolation level / read-only mode of each of those transactions.
   */
  transaction?: boolean | TransactionOptions
  /** Where transaction retries are logged (`warn`); the request's logger in a request. */
  logger?: PoolLogger
  /** The request this session belongs to; carried on the session diagnostics channels. */
  requestId?: string
  /**
   * Abandons a checkout still waiting for the pool (or a connection still being opened) when it
   * aborts: the plugin passes the request's, so a request that ended never gets a connection.
   */
  signal?: AbortSignal | CancelSignal
}

/** What a session reports for the request log line (`dbSession`). */
export interface SessionStats {
  /** Statements run through the session (including BEGIN/COMMIT it issued). */
  queries: number
  /** Time spent waiting for the pool, in ms. */
  waitMs: number
  /** Time the connection was held, in ms (up to now while still held). */
  heldMs: number
  /** Transactions committed (the server acknowledged the COMMIT). */
  commits: number
  /**
   * Transactions that ended without a commit: rolled back by rollback(), by a throwing
   * transaction(fn), or when the session closed with one open (a failed request's unit of work);
   * rolled back by the server (a deadlock, a disconnect); or whose COMMIT failed (after a
   * disconnect its outcome is unknown). COMMIT/ROLLBACK sent as plain SQL, and a DDL statement's
   * implicit commit, are not seen by either counter.
   */
  rollbacks: number
}

type Sql = string | QueryOptions

export class Session {
  readonly #pool: CheckoutSource
  /** How the unit of work begins its transactions; undefined when the session is not one. */
  #unitOfWork: ResolvedTransaction | undefined
  readonly #log: PoolLogger | undefined
  /** Streams still reading; destroyed when the session closes. Created by the first stream(). */
  #streams: Set<RowStream<unknown>> | null = null
  readonly #signal: CancelSignal | undefined
  readonly #requestId: string | undefined
  #conn: PooledConnection | null = null
  #acquiring: Promise<PooledConnection> | null = null
  #beginning: Promise<void> | null = null
  #closing: Promise<void> | null = null
  #inTransaction = false
  #pendingRollback: unknown = undefined
  /** The COMMIT of a streamed unit of work in flight, which close() waits for. */
  #committing: Promise<void> | null = null
  #closeAwaitsCommit = false
  #savepoints = 0
  #commits = 0
  #rollbacks = 0
  #queries = 0
  #waitMs = 0
  #heldMs = 0
  #heldSince = 0
  /** The rejection handler of every statement (see #statement): made once per session, not per statement. */
  readonly #rethrowTranslated = (err: unknown): never => {
    throw this.#translate(err)
  }

  constructor (pool: CheckoutSource, options?: SessionOptions) {
    this.#pool = pool
    const tx = options?.transaction
    this.#unitOfWork = tx === true ? PLAIN_TRANSACTION : tx === undefined || tx === false ? undefined : resolveTransactionOptions(tx)
    this.#log = options?.logger
    this.#requestId = options?.requestId
    this.#signal = options?.signal
  }

  /**
   * From now on statements run in autocommit, as outside a unit of work: the plugin calls this when
   * a unit-of-work route hijacks its reply (the response is then the handler's, so no commit can
   * come before it). Refused while the unit of work's transaction is open.
   */
  leaveUnitOfWork (): void {
    this.assertNoUncommittedWork()
    this.#unitOfWork = undefined
  }

  /**
   * Throws TransactionStateError while a transaction is open or still beginning (its START
   * TRANSACTION in flight): what leaveUnitOfWork() refuses, checked without leaving, so a caller
   * with several sessions can check them all before it changes any.
   */
  assertNoUncommittedWork (): void {
    if (this.#inTransaction || this.#beginning !== null) throw new TransactionStateError('The unit of work has uncommitted work: let its statements finish and commit it (await request.db.commit()) before hijacking the reply')
  }

  /** A transaction is open (begun explicitly or by the unit of work). */
  get inTransaction (): boolean {
    return this.#inTransaction
  }

  /** close() was called (or the request ended). */
  get closed (): boolean {
    return this.#closing !== null
  }

  /** Closed, but the connection is only given back once a streamed unit of work's COMMIT answered. */
  get closeAwaitsCommit (): boolean {
    return this.#closeAwaitsCommit
  }

  /** The session begins its own transaction before the first statement. */
  get isUnitOfWork (): boolean {
    return this.#unitOfWork !== undefined
  }

  /** A stream from stream() is still open (its statement may still be running). */
  get streaming (): boolean {
    return this.#streams !== null && this.#streams.size > 0
  }

  /** A statement is running right now. */
  get busy (): boolean {
    return this.#conn !== null && this.#conn.inFlight > 0
  }

  /** Resolves once no statement is running. */
  async whenIdle (): Promise<void> {
    await this.#conn?.whenIdle()
  }

  /** A connection is held right now. */
  get hasConnection (): boolean {
    return this.#conn !== null
  }

  /** Same signature and result shape as mysql2/promise `query`. */
  query<T extends QueryResult = QueryResult> (sql: Sql, values?: QueryValues): Promise<[T, FieldPacket[]]> {
    return this.#statement<T>('query', sql, values)
  }

  /** Same signature and result shape as mysql2/promise `execute` (prepared statements). */
  execute<T extends QueryResult = QueryResult> (sql: Sql, values?: ExecuteValues): Promise<[T, FieldPacket[]]> {
    return this.#statement<T>('execute', sql, values)
  }

  /**
   * A statement costs two promises when the connection can be used at once (held, or idle in the
   * pool and taken now; open, no transaction to begin first): the handle's, and the one that turns
   * a driver error into ours. Not an async function with an await, which costs two more and a
   * microtask hop. The translation stays in a rejection handler on purpose: an error made there
   * carries the caller's async frames (`at async handler`), and it runs after the handle reacted
   * to the error (dropped a dead connection), as the session's translation expects. Never throws:
   * every failure is a rejection, as from an async function.
   */
  #statement<T extends QueryResult> (method: 'query' | 'execute', sql: Sql, values: QueryValues | ExecuteValues | undefined): Promise<[T, FieldPacket[]]> {
    let conn: PooledConnection | null
    try {
      if (this.#conn === null) this.#takeNow()
      conn = this.#open() && !this.#needsBegin() ? this.#conn : null
    } catch (err) {
      return Promise.reject(err)
    }
    if (conn === null) return this.#statementWhenReady<T>(method, sql, values)
    this.#queries++
    return this.#send<T>(conn, method, sql, values)
  }

  /** A statement that waits first: for the pool, for its unit of work's BEGIN, or to fail as the session says. */
  async #statementWhenReady<T extends QueryResult> (method: 'query' | 'execute', sql: Sql, values: QueryValues | ExecuteValues | undefined): Promise<[T, FieldPacket[]]> {
    const conn = await this.#ready()
    this.#queries++
    return await this.#send<T>(conn, method, sql, values)
  }

  #send<T extends QueryResult> (conn: PooledConnection, method: 'query' | 'execute', sql: Sql, values: QueryValues | ExecuteValues | undefined): Promise<[T, FieldPacket[]]> {
    let running: Promise<[T, FieldPacket[]]>
    try {
      running = method === 'query' ? conn.query<T>(sql, values as QueryValues) : conn.execute<T>(sql, values as ExecuteValues)
    } catch (err) {
      // mysql2 (or the handle) refused the arguments synchronously: a rejection, translated too.
      running = Promise.reject(err)
    }
    return running.then(undefined, this.#rethrowTranslated)
  }

  /**
   * The rows of one statement as an object-mode Readable with back-pressure (see stream.ts). The
   * connection is held until the stream ends or is destroyed; closing the session stops it.
   */
  stream<T = RowDataPacket> (sql: Sql, values?: QueryValues, options?: StreamOptions): RowStream<T> {
    this.#check()
    this.#queries++
    const stream = openRowStream<T>({
      connection: () => this.#ready(),
      translate: (err) => this.#translate(err),
      closed: () => this.#closing !== null
    }, sql, values, options)
    const streams = this.#streams ??= new Set()
    streams.add(stream)
    stream.once('close', () => streams.delete(stream))
    return stream
  }

  /**
   * A streamed response's unit of work: commits as soon as every open stream was read to its end
   * (synchronously at the last 'end', so before the response finishes), never if one is destroyed
   * first. A close() meanwhile waits for that COMMIT instead of killing it: every row went out.
   */
  commitAfterStreams (onError: (err: unknown) => void): void {
    let pending = 0
    const commit = (): void => {
      const committing = this.commit()
      this.#committing = committing
      committing.catch(onError).finally(() => { if (this.#committing === committing) this.#committing = null })
    }
    for (const stream of this.#streams ?? []) {
      if (stream.readableEnded) continue
      pending++
      stream.once('end', () => { if (--pending === 0) commit() })
    }
    if (pending === 0) commit()
  }

  /**
   * Starts a transaction, with an isolation level and/or read-only if given (for this transaction
   * only). Inside one already, use transaction(fn) for a savepoint.
   */
  async begin (options?: TransactionOptions): Promise<void> {
    const tx = resolveTransactionOptions(options)
    if (this.#inTransaction) throw new TransactionStateError('A transaction is already begun on this session; use transaction(fn) to nest one with a savepoint')
    const conn = await this.#ready()
    if (this.#inTransaction) {
      // The unit of work began it, with the route's options.
      if (tx !== PLAIN_TRANSACTION) throw new TransactionStateError('This request runs in a unit of work whose transaction is already begun; set its options in the route config (config.db.transaction)')
      return
    }
    await this.#start(conn, tx)
  }

  async #start (conn: PooledConnection, tx: ResolvedTransaction): Promise<void> {
    // SET TRANSACTION (no SESSION) applies to the next transaction only; ROLLBACK and the reset on
    // return clear it should START TRANSACTION never run.
    if (tx.isolation !== undefined) await this.#run(conn, tx.isolation)
    await this.#run(conn, tx.start)
    if (this.#closing !== null) {
      // close() came while START TRANSACTION ran and it still succeeded: the connection went back
      // without a ROLLBACK of ours (the reset on return ends the transaction), so it counts as
      // rolled back here. (A START that the close interrupted began nothing and counts nothing.)
      this.#rollbacks++
      throw new SessionClosedError()
    }
    this.#inTransaction = true
  }

  /** Commits the open transaction; without one it does nothing. */
  async commit (): Promise<void> {
    this.#check()
    if (!this.#inTransaction || this.#conn === null) return
    const conn = this.#conn
    this.#inTransaction = false // whatever COMMIT answers, that transaction is over
    try {
      await this.#run(conn, 'COMMIT')
    } catch (err) {
      this.#rollbacks++
      throw err
    }
    this.#commits++
    conn.transactionEnded()
  }

  /** Rolls back the open transaction (and clears a pending rollback after a disconnect). */
  async rollback (): Promise<void> {
    if (this.#closing !== null) throw new SessionClosedError()
    this.#pendingRollback = undefined
    this.#savepoints = 0
    if (!this.#inTransaction) return
    this.#inTransaction = false
    this.#rollbacks++
    const conn = this.#conn
    if (conn === null) return
    await this.#run(conn, 'ROLLBACK')
    conn.transactionEnded()
  }

  /**
   * Runs `fn` in a transaction: committed when it resolves, rolled back when it throws. Inside
   * an open transaction it runs in a SAVEPOINT instead, so only its own work is undone.
   * `{ retries: n }` runs `fn` again (up to n more times, after a jittered back-off) when the
   * database rolls the transaction back for a deadlock or lock wait timeout; `fn` must then be
   * safe to run again.
   */
  async transaction<T> (fn: (session: this) => Promise<T> | T, options?: TransactionRunOptions): Promise<T> {
    const { tx, retries } = resolveRunOptions(options)
    if (this.#unitOfWork !== undefined) await this.#ready()
    if (!this.#inTransaction) {
      const once = (): Promise<T> => this.#runTransaction(fn, tx)
      return retries === 0 ? once() : runWithRetries(once, retries, this.#log ?? defaultLogger())
    }
    if (retries > 0) throw new TransactionStateError('transaction(fn, { retries }) inside an open transaction: a savepoint cannot be retried alone; retry the outer transaction')
    if (tx !== PLAIN_TRANSACTION) throw new TransactionStateError('isolationLevel/readOnly apply to a whole transaction, not to a savepoint inside an open one')
    const name = `fdbs_sp_${++this.#savepoints}`
    await this.query(`SAVEPOINT ${name}`)
    try {
      const result = await fn(this)
      await this.query(`RELEASE SAVEPOINT ${name}`)
      return result
    } catch (err) {
      if (this.#inTransaction && this.#conn !== null) await this.query(`ROLLBACK TO SAVEPOINT ${name}`).catch(() => undefined)
      throw err
    }
  }

  async #runTransaction<T> (fn: (session: this) => Promise<T> | T, tx: ResolvedTransaction): Promise<T> {
    await this.#start(await this.#ready(), tx)
    let result: T
    try {
      result = await fn(this)
    } catch (err) {
      if (this.#closing === null) await this.rollback().catch(() => undefined)
      throw err
    }
    await this.commit()
    return result
  }

  /**
   * Ends the session and gives the connection back: an open transaction is rolled back, and a
   * connection with a statement still running is destroyed instead of returned. Idempotent.
   */
  close (): Promise<void> {
    if (this.#closing !== null) return this.#closing
    if (this.#committing !== null) {
      // The COMMIT of a streamed unit of work whose rows all went out is let through, not
      // killed (other statements, a COMMIT included, are interrupted when the request ends).
      const committing = this.#committing
      this.#committing = null
      this.#closeAwaitsCommit = true
      this.#closing = committing.then(noop, noop).then(() => {
        this.#closeAwaitsCommit = false
        this.#closing = null
        return this.close()
      })
      return this.#closing
    }
    const conn = this.#conn
    this.#conn = null
    if (conn === null) {
      this.#closing = CHECKED_IN
      this.#endStreams()
      return this.#closing
    }
    this.#heldMs += performance.now() - this.#heldSince
    if (sessionChannels.released.hasSubscribers) publishSessionReleased(this, conn.owner as Pool, this.#requestId, this.#heldMs, this.#queries)
    const rollback = this.#inTransaction
    this.#inTransaction = false
    if (rollback) this.#rollbacks++
    // A statement still running is interrupted by the pool (KILL QUERY), or failed with
    // SessionClosedError if its connection has to be destroyed.
    this.#closing = conn.close({ rollback, abortReason: conn.inFlight > 0 ? new SessionClosedError() : undefined })
    this.#endStreams()
    return this.#closing
  }

  async [Symbol.asyncDispose] (): Promise<void> {
    await this.close()
  }

  /** After the pool took the connection back (and started stopping a statement still streaming). */
  #endStreams (): void {
    if (this.#streams === null) return
    for (const stream of this.#streams) stream.destroy(new SessionClosedError())
  }

  stats (): SessionStats {
    const held = this.#conn === null ? this.#heldMs : this.#heldMs + performance.now() - this.#heldSince
    return {
      queries: this.#queries,
      waitMs: Math.round(this.#waitMs * 10) / 10,
      heldMs: Math.round(held * 10) / 10,
      commits: this.#commits,
      rollbacks: this.#rollbacks
    }
  }

  /** Nothing stops a statement now: #check would not throw. */
  #open (): boolean {
    return this.#closing === null && this.#pendingRollback === undefined
  }

  #check (): void {
    if (this.#open()) return
    if (this.#closing !== null) throw new SessionClosedError()
    if (this.#pendingRollback !== undefined) throw new PendingRollbackError({ cause: this.#pendingRollback })
  }

  #needsBegin (): boolean {
    return this.#unitOfWork !== undefined && !this.#inTransaction
  }

  /** The connection, taken from the pool and (for a unit of work) inside a transaction. */
  async #ready (): Promise<PooledConnection> {
    this.#check()
    if (this.#conn === null) this.#takeNow()
    const conn = this.#conn ?? await this.#acquire()
    if (this.#needsBegin()) {
      this.#beginning ??= this.#start(conn, this.#unitOfWork as ResolvedTransaction).finally(() => { this.#beginning = null })
      await this.#beginning
    }
    this.#check()
    return conn
  }

  /** #acquire's synchronous fast path: an idle connection taken without waiting (see Pool.connectNow). */
  #takeNow (): void {
    if (this.#acquiring !== null || this.#closing !== null || this.#pendingRollback !== undefined || this.#signal?.aborted === true) return
    const conn = this.#pool.connectNow?.()
    if (conn !== undefined) this.#adopt(conn, performance.now(), 0)
  }

  #adopt (conn: PooledConnection, now: number, waited: number): void {
    this.#waitMs += waited
    this.#conn = conn
    this.#heldSince = now
    if (sessionChannels.acquired.hasSubscribers) publishSessionAcquired(this, conn.owner as Pool, this.#requestId, conn.record?.id ?? 0, waited)
  }

  #acquire (): Promise<PooledConnection> {
    if (this.#acquiring !== null) return this.#acquiring
    const started = performance.now()
    // #acquiring is cleared in both callbacks rather than in a finally(), which would cost three
    // more promises for every statement that waits for the pool.
    this.#acquiring = (this.#signal === undefined ? this.#pool.connect() : this.#pool.connect({ signal: this.#signal })).then((conn) => {
      this.#acquiring = null
      const now = performance.now()
      if (this.#closing !== null) {
        // The request ended while we waited for the pool: give it straight back.
        this.#waitMs += now - started
        void conn.close()
        throw new SessionClosedError()
      }
      this.#adopt(conn, now, now - started)
      return conn
    }, (err: unknown) => {
      this.#acquiring = null
      this.#waitMs += performance.now() - started
      throw err
    })
    return this.#acquiring
  }

  /** The session's own statements (BEGIN, COMMIT, ROLLBACK, SET TRANSACTION), translated like the caller's. */
  async #run (conn: PooledConnection, sql: string): Promise<void> {
    this.#check()
    this.#queries++
    await this.#send(conn, 'query', sql, undefined)
  }

  /**
   * Driver errors become coded errors whose messages carry no SQL or server text (the original is
   * the `cause`). After a disconnect the connection is gone: outside a transaction the next
   * statement takes a new one; inside, the session refuses work until rollback().
   */
  #translate (err: unknown): Error {
    // The session was closed under the statement (request over): say so, whatever the driver said.
    if (this.#closing !== null) return err instanceof SessionClosedError ? err : new SessionClosedError({ cause: err })
    // The pool dropped the connection before the statement went out (it saw the server close it).
    const invalidated = err instanceof ConnectionInvalidatedError
    if (err instanceof DbError && !invalidated) return err
    const disconnect = invalidated || isDisconnectError(err)
    if (disconnect || isPoisoningError(err)) {
      const conn = this.#conn
      this.#conn = null
      if (conn !== null) {
        this.#heldMs += performance.now() - this.#heldSince
        if (sessionChannels.released.hasSubscribers) publishSessionReleased(this, conn.owner as Pool, this.#requestId, this.#heldMs, this.#queries)
        conn.invalidate(err) // no-op when the handle already dropped it
      }
      this.#transactionLost(err)
      return invalidated ? err : disconnect ? new DisconnectedError(err) : new QueryError(err)
    }
    const conflict = serverConflict(err)
    if (conflict === undefined) return new QueryError(err)
    // A deadlock makes InnoDB roll back the whole transaction: the statements that follow would
    // run in autocommit as if the earlier writes had happened. (A lock wait timeout undoes only
    // the statement.)
    if (conflict.errno === 1213) this.#transactionLost(err)
    return new TransactionConflictError(err)
  }

  #transactionLost (err: unknown): void {
    if (!this.#inTransaction) return
    this.#inTransaction = false
    this.#rollbacks++
    this.#pendingRollback = err
  }
}

function noop (): void {}
