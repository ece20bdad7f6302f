/**
 * What every pool kind shares: opening a slot's connection (with a deadline), the checkout pipeline
 * (reconnect, recycle, pool-wide invalidation, pre-ping), the check-in pipeline (reset on return,
 * abandon), invalidation, leak detection and events. Subclasses decide where slots live.
 */
import { EventEmitter } from 'node:events'
import { performance } from 'node:perf_hooks'
import { ConnectionInvalidatedError, DatabaseUnavailableError, DriverTimeoutError, PoolClosedError } from '../errors'
import { resolvePoolOptions, type PoolOptions, type ResetOnReturn, type ResolvedPoolOptions } from './options'
import { ConnectionRecord } from './connection-record'
import {
  coreOf, destroyConnection, endConnection, endpointOf, isConnectionUsable, isDisconnectError, startsInAutocommit,
  withDeadline, type DriverConnection
} from './driver'
import { defaultLogger, guardLogger, type PoolLogger } from './logger'
import { LeakWatch } from './leak-watch'
import { PooledConnection, type HandleOwner, type HandleState } from './pooled-connection'
import { StatementKiller } from './statement-killer'
import { runConnectSetup } from './connect-setup'
import { abandonable, abortReason, type CancelSignal, type CheckoutOptions } from './checkout-signal'
import { HoldTime } from './hold-time'
import { newCounters, type PoolCounters, type PoolGauges, type PoolStats } from './stats'
import {
  checkoutsObserved, poolChannels, publishCheckin, publishCheckout, publishConnect, publishConnectError, publishInvalidate
} from '../observe/channels'

/** Makes a new database connection; e.g. `() => mysql.createConnection(url)`. */
export type Creator = () => DriverConnection | Promise<DriverConnection>

/** Listener signatures of the pool events (SQLAlchemy's pool events, Node style). */
export interface PoolEvents {
  /** A new database connection was opened. */
  connect: [connection: DriverConnection, record: ConnectionRecord]
  /** A connection was handed out. */
  checkout: [connection: DriverConnection, record: ConnectionRecord, handle: PooledConnection]
  /** A slot came back; `connection` is null when it was invalidated. */
  checkin: [connection: DriverConnection | null, record: ConnectionRecord]
  /** Just before the reset on return of a live connection. */
  reset: [connection: DriverConnection, record: ConnectionRecord, mode: ResetOnReturn]
  /** A connection is being discarded because of an error, or an explicit invalidate() (no error then). */
  invalidate: [connection: DriverConnection, record: ConnectionRecord, error?: unknown]
  /** A database connection owned by the pool is being closed. */
  close: [connection: DriverConnection, record: ConnectionRecord]
}

type HotEvent = 'checkout' | 'checkin' | 'reset'
const isHotEvent = (event: string | symbol): event is HotEvent => event === 'checkout' || event === 'checkin' || event === 'reset'

const RESOLVED: Promise<void> = Promise.resolve()

const RESET_SQL: Record<'rollback' | 'commit', string> = { rollback: 'ROLLBACK', commit: 'COMMIT' }

export abstract class Pool extends EventEmitter<PoolEvents> implements HandleOwner {
  protected readonly _opts: ResolvedPoolOptions
  protected readonly _log: PoolLogger
  protected _counters: PoolCounters = newCounters()
  /** Bumped on pool-wide invalidation; connections of an older generation are replaced at checkout. */
  protected _generation = 0
  /** Bumped by dispose(); slots of an older epoch are closed when they come back. */
  protected _epoch = 0
  protected _closed = false
  /** Every slot that owns (or is opening) a connection, for close(). */
  protected readonly _records = new Set<ConnectionRecord>()
  protected _lastConnectError: unknown = undefined
  /**
   * Asked only when a checkout has to wait: a note when the caller already holds a connection of
   * this pool (a nested checkout, which can deadlock); set by the plugin, which knows the request.
   */
  nestedCheckoutProbe: (() => string | undefined) | undefined = undefined
  readonly #creator: Creator
  /** Checkout needs the clock only for recycle or the pre-ping bypass. */
  #needsClock: boolean
  /** Stops statements still running on connections given back mid-statement. */
  readonly #killer: StatementKiller
  /** How long checkouts hold their connection, for failFast's estimate of a wait. */
  readonly #holdTime = new HoldTime()
  /** Whether anyone listens to the per-checkout events: emit() with rest arguments costs even with no listener. */
  readonly #hot: Record<HotEvent, boolean> = { checkout: false, checkin: false, reset: false }

  constructor (creator: Creator, options?: PoolOptions) {
    super()
    if (typeof creator !== 'function') {
      throw new TypeError('The first argument of a pool must be a function that returns a mysql2/promise connection, e.g. () => mysql.createConnection(url)')
    }
    this.#creator = creator
    this._opts = resolvePoolOptions(options)
    this._log = guardLogger(this._opts.logger ?? defaultLogger())
    this.#needsClock = this._opts.recycle >= 0 || this._opts.prePing || this._opts.failFast
    this.#killer = new StatementKiller(() => this.#create(), this._opts.resetTimeout, this._log)
    // 'newListener' fires before the listener is added, 'removeListener' after it is removed.
    const self = this as EventEmitter
    self.on('newListener', (event: string | symbol) => {
      if (isHotEvent(event)) this.#hot[event] = true
    })
    self.on('removeListener', (event: string | symbol) => {
      if (isHotEvent(event)) this.#hot[event] = this.listenerCount(event) > 0
    })
  }

  /** Takes a connection from the pool. */
  abstract connect (options?: CheckoutOptions): Promise<PooledConnection>

  /**
   * connect()'s synchronous fast path: a handle when one can be handed out at once (an idle
   * connection, nobody queued ahead, no reconnect, recycle or pre-ping due), else undefined and
   * the caller uses connect(). Saves a session the promise hops of a checkout on every request.
   */
  connectNow (): PooledConnection | undefined {
    return undefined
  }

  /** Listeners run inside the pool's bookkeeping: one that throws must not leave it half done. */
  #emit<K extends keyof PoolEvents> (event: K, ...args: PoolEvents[K]): void {
    try {
      (this.emit as (event: K, ...args: PoolEvents[K]) => boolean)(event, ...args)
    } catch (err) {
      this._log.error({ err, event }, 'A pool event listener threw; the pool carried on')
    }
  }
  /** SQLAlchemy's one-line status. */
  abstract status (): string
  /** A plain snapshot of the pool's state and counters. */
  abstract stats (): PoolStats

  /** The gauges of stats() alone, for a line per request: less to build and to serialize. */
  gauges (): PoolGauges {
    const s = this.stats()
    return { size: s.size, checkedIn: s.checkedIn, checkedOut: s.checkedOut, overflow: s.overflow, waiting: s.waiting }
  }
  /** Closes idle connections and resets counters; the pool stays usable. */
  abstract dispose (): Promise<void>
  /** Puts a returned slot back (or discards it). */
  protected abstract _returnRecord (record: ConnectionRecord): void
  /** A checkout could not produce a connection for this slot; `isNew` slots were never usable. */
  protected abstract _checkoutFailed (record: ConnectionRecord, isNew: boolean): void
  /** Rejects waiters and stops taking checkouts (close() step 1). */
  protected abstract _stopAccepting (): void
  /** Slots currently checked out. */
  protected abstract _outstanding (): number

  /** failFast's estimate of the wait behind `ahead` queued checkouts (undefined until trusted). */
  protected _expectedWait (ahead: number, slots: number): number | undefined {
    return this.#holdTime.expectedWait(ahead, slots)
  }

  /** The configured checkout timeout, in ms. */
  timeout (): number {
    return this._opts.timeout
  }

  /** The resolved options, read-only (metrics report the pool's limits from them). */
  get options (): Readonly<ResolvedPoolOptions> {
    return this._opts
  }

  get closed (): boolean {
    return this._closed
  }

  /** Sets `recycle` for connections opened from now on (the plugin's poolRecycle 'auto', once wait_timeout is known). */
  setRecycle (ms: number): void {
    this._opts.recycle = ms
    this.#needsClock = ms >= 0 || this._opts.prePing || this._opts.failFast
  }

  /**
   * Discards the connections `match` picks as if each had been disconnected: idle ones now,
   * checked-out ones when they come back. For a caller that knows a server went bad (a cluster
   * node that became read-only); the pool itself knows nothing of servers. Returns how many.
   */
  invalidateConnections (match: (connection: DriverConnection) => boolean, reason: unknown): number {
    let n = 0
    for (const record of this._records) {
      const conn = record.connection
      if (conn === null || record.broken || !match(conn)) continue
      n++
      this.#connectionGone(record, conn, reason)
    }
    return n
  }

  /** A fresh slot of the current epoch, registered for close(). */
  protected _newRecord (): ConnectionRecord {
    const record = new ConnectionRecord()
    record.epoch = this._epoch
    this._records.add(record)
    return record
  }

  /** Opens the slot's connection with the connect deadline; errors become DatabaseUnavailableError. */
  protected async _open (record: ConnectionRecord): Promise<void> {
    let conn: DriverConnection
    const started = performance.now()
    try {
      conn = await this.#create()
    } catch (err) {
      this._counters.connectErrors++
      this._lastConnectError = err
      this._log.debug({ err }, 'Error on connect()')
      const error = err instanceof DatabaseUnavailableError ? err : new DatabaseUnavailableError(err)
      if (poolChannels.connectError.hasSubscribers) publishConnectError(this, error, performance.now() - started)
      throw error
    }
    const core = coreOf(conn)
    const now = performance.now()
    record.connection = conn
    record.createdAt = now
    record.lastUsedAt = now
    record.expiresAt = this._opts.recycle < 0 ? Infinity : now + this._opts.recycle * (1 - Math.random() * this._opts.recycleJitter)
    record.generation = this._generation
    record.fresh = true
    record.broken = false
    record.readsAreClean = core.config?.multipleStatements !== true && startsInAutocommit(conn)
    // Without listeners an idle disconnect would crash the process (uncaught 'error').
    const onGone = (err?: unknown): void => this.#connectionGone(record, conn, err)
    core.on('error', onGone)
    core.on('end', onGone)
    record.unwatch = () => {
      core.off('end', onGone)
      // Keep swallowing late socket errors of a connection we closed ourselves.
      core.off('error', onGone)
      core.on('error', noop)
    }
    this._counters.connects++
    // onConnect and 'connect' listeners set the connection up: when one fails the connection is
    // closed, never pooled, and this checkout fails (the caller frees the slot).
    const failure = await runConnectSetup(conn, record, this._opts, (c, r) => this.emit('connect', c, r))
    if (failure !== undefined) {
      this._counters.connectErrors++
      this._lastConnectError = failure
      this._log.warn({ err: failure, connection: record.id }, 'Connection set-up failed (onConnect or a connect listener); connection closed')
      void this._closeConnection(record, true)
      throw new DatabaseUnavailableError(failure)
    }
    if (poolChannels.connect.hasSubscribers) publishConnect(this, record, now - started)
  }

  #create (): Promise<DriverConnection> {
    const ms = this._opts.connectTimeout
    let expired = false
    const made = Promise.resolve().then(this.#creator).then((conn) => {
      if (expired) destroyConnection(conn) // arrived after the deadline: nobody will use it
      return conn
    })
    return withDeadline(made, ms, 'connect', () => { expired = true })
  }

  /** An idle connection that errors or ends is dropped at once; a held one is dropped on return. */
  #connectionGone (record: ConnectionRecord, conn: DriverConnection, err: unknown): void {
    if (record.connection !== conn || record.broken) return
    record.broken = true
    if (record.holders === 0) this._drop(record, err ?? new Error('Connection ended by the server'))
  }

  /** Closes and forgets the slot's connection (invalidate + close events); the slot stays. */
  protected _drop (record: ConnectionRecord, err: unknown, abortReason?: Error): void {
    const conn = record.connection
    if (conn === null) return
    this._counters.invalidations++
    this._log.debug({ err, connection: record.id }, 'Invalidate connection')
    if (poolChannels.invalidate.hasSubscribers) publishInvalidate(this, record, err)
    // A deliberate invalidate() passes no error, so listeners can tell it from a failure.
    if (err === undefined) this.#emit('invalidate', conn, record)
    else this.#emit('invalidate', conn, record, err)
    void this._closeConnection(record, true, abortReason)
  }

  /** Closes the slot's connection: destroy (hard) or COM_QUIT (graceful, in the background). */
  protected _closeConnection (record: ConnectionRecord, hard: boolean, abortReason?: Error): Promise<void> {
    const conn = record.connection
    if (conn === null) return RESOLVED
    record.connection = null
    record.unwatch?.()
    record.unwatch = null
    this.#emit('close', conn, record)
    if (!hard) return endConnection(conn, this._opts.resetTimeout)
    // A statement still running or queued on it fails (with `abortReason`) rather than waiting
    // forever on a closed socket.
    destroyConnection(conn, abortReason ?? new ConnectionInvalidatedError())
    return RESOLVED
  }

  /** Removes a slot for good (discarded overflow, closed pool, old epoch). */
  protected _forget (record: ConnectionRecord): void {
    void this._closeConnection(record, record.broken || (record.connection !== null && !isConnectionUsable(record.connection)))
    this._records.delete(record)
    // close() may be waiting for this one (whatever its dispose epoch).
    if (this.#drained !== undefined && !this.#busy()) this.#drained()
  }

  /**
   * The checkout pipeline. Fast path (the common case) is synchronous: a live connection of the
   * current generation, not expired, not due for a ping.
   */
  protected _checkout (record: ConnectionRecord, isNew: boolean, signal?: CancelSignal): Promise<PooledConnection> {
    const handle = this._checkoutNow(record)
    if (handle !== undefined) return Promise.resolve(handle)
    return signal === undefined ? this._checkoutSlow(record, isNew) : abandonable(this._checkoutSlow(record, isNew, signal), signal)
  }

  /** The synchronous fast path of _checkout: the handle, or undefined when the slow path is needed. */
  protected _checkoutNow (record: ConnectionRecord): PooledConnection | undefined {
    if (record.connection === null || record.broken || record.generation !== this._generation) return undefined
    if (!this.#needsClock) return this._handOut(record, 0)
    const now = performance.now()
    if (now <= record.expiresAt && (!this._opts.prePing || record.fresh || now - record.lastUsedAt < this._opts.prePingBypass)) {
      return this._handOut(record, now)
    }
    return undefined
  }

  /** The checkout pipeline's slow path: reconnect, recycle, pre-ping. */
  protected async _checkoutSlow (record: ConnectionRecord, isNew: boolean, signal?: CancelSignal): Promise<PooledConnection> {
    record.holders++ // keeps idle-death handling away while we work on the slot
    if (record.waitSince === 0) record.waitSince = performance.now() // the wait time reported at checkout
    try {
      if (record.connection === null || record.broken) {
        this._drop(record, new Error('Connection was broken while idle'))
        await this._open(record)
      } else if (performance.now() > record.expiresAt || record.generation < this._generation) {
        this._counters.recycles++
        this._log.debug({ connection: record.id }, record.generation < this._generation
          ? 'Connection invalidated due to pool invalidation; recycling'
          : 'Connection exceeded recycle age; recycling')
        void this._closeConnection(record, false)
        await this._open(record)
      }
      if (this._opts.prePing && !record.fresh && performance.now() - record.lastUsedAt >= this._opts.prePingBypass) {
        await this.#prePing(record)
      }
      // Opened after close() gave up waiting (closeTimeout): never hand out from a closed pool.
      if (this.#closedAll) throw new PoolClosedError()
    } catch (err) {
      record.holders--
      record.waitSince = 0
      this._checkoutFailed(record, isNew)
      throw err
    }
    record.holders--
    if (signal?.aborted === true) {
      // Nobody wants this connection any more (its request ended while it was being opened):
      // it goes to the next waiter or into the pool, never to a caller that has gone.
      this._counters.abandoned++
      record.waitSince = 0
      this._returnRecord(record)
      throw abortReason(signal)
    }
    return this._handOut(record, performance.now())
  }

  /** SQLAlchemy's pre-ping: on a disconnect, mark the pool and reconnect once (the new one is fresh). */
  async #prePing (record: ConnectionRecord): Promise<void> {
    const conn = record.connection as DriverConnection
    try {
      await withDeadline(conn.ping(), this._opts.pingTimeout, 'ping', () => destroyConnection(conn))
    } catch (err) {
      if (!isDisconnectError(err) && !(err instanceof DriverTimeoutError)) {
        this._drop(record, err)
        throw err
      }
      this._log.info({ err, connection: record.id }, 'Pool pre-ping failed; invalidating connections older than this one and reconnecting')
      this._markStale(record)
      this._drop(record, err)
      await this._open(record)
    }
  }

  /** Pool-wide invalidation: every connection of this generation or older is replaced at its next checkout. */
  protected _markStale (record: ConnectionRecord): void {
    // A connection already older than the mark doesn't move it (SQLAlchemy's rule).
    if (record.generation === this._generation) this._generation++
  }

  protected _handOut (record: ConnectionRecord, now: number): PooledConnection {
    record.holders++
    record.fresh = false
    this._counters.checkouts++
    if (now === 0 && checkoutsObserved()) now = performance.now() // wait and use times need the clock
    const handle = new PooledConnection(this, record, now)
    if (this._opts.leakDetectionThreshold > 0) handle.leak = new LeakWatch(record.id, this._opts.leakDetectionThreshold, this._log, () => this.stats(), this)
    if (poolChannels.checkout.hasSubscribers) publishCheckout(this, record, now)
    if (record.waitSince !== 0) record.waitSince = 0
    if (this.#hot.checkout) this.#emit('checkout', record.connection as DriverConnection, record, handle)
    return handle
  }

  /** HandleOwner: the check-in pipeline (reset on return, then give the slot back). */
  checkin (handle: PooledConnection, record: ConnectionRecord, state: HandleState): Promise<void> | undefined {
    handle.leak?.returned()
    if (this._opts.failFast) this.#holdTime.add(performance.now() - handle.checkedOutAt)
    if (poolChannels.checkin.hasSubscribers) publishCheckin(this, record, handle.checkedOutAt, false)
    const conn = record.connection
    if (conn === null || record.broken) {
      this._drop(record, new Error('Connection was broken while checked out'))
      this.#finishCheckin(record, null)
      return undefined
    }
    // A statement still running means the connection is busy: never hand it to someone else.
    // (A StaticPool connection shared with other holders is theirs too: leave it running.)
    if (state.inFlight > 0 && record.holders <= 1) return this.#interrupt(handle, record, conn, state)
    let mode = this._resetModeFor(record)
    if (state.forceRollback && record.holders <= 1 && mode !== 'reset') mode = 'rollback'
    if (mode === 'none' || (mode === 'reset' ? !state.used : !state.dirty)) {
      if (this.#hot.reset) this.#emit('reset', conn, record, mode)
      this.#finishCheckin(record, conn)
      return undefined
    }
    return this.#resetAndCheckin(record, conn, mode)
  }

  /** StaticPool overrides: only the last holder resets a shared connection. */
  protected _resetModeFor (_record: ConnectionRecord): ResetOnReturn {
    return this._opts.resetOnReturn
  }

  async #resetAndCheckin (record: ConnectionRecord, conn: DriverConnection, mode: 'rollback' | 'commit' | 'reset'): Promise<void> {
    this.#emit('reset', conn, record, mode)
    try {
      const op: Promise<unknown> = mode === 'reset' ? conn.reset() : conn.query(RESET_SQL[mode])
      await withDeadline(op, this._opts.resetTimeout, mode, () => destroyConnection(conn))
    } catch (err) {
      // SQLAlchemy: logged, the connection discarded, never thrown at the caller.
      this._log.error({ err, connection: record.id, resetOnReturn: mode }, 'Exception during reset or similar')
      this._drop(record, err)
      this.#finishCheckin(record, null)
      return
    }
    this.#finishCheckin(record, conn)
  }

  #finishCheckin (record: ConnectionRecord, conn: DriverConnection | null): void {
    record.holders--
    if (this._opts.prePing) record.lastUsedAt = performance.now()
    if (this.#hot.checkin) this.#emit('checkin', conn, record)
    if (record.holders === 0) this._returnRecord(record)
  }

  /** HandleOwner: a handle saw a disconnect or was invalidated explicitly. */
  invalidate (record: ConnectionRecord, err: unknown, poolWide: boolean, handle?: PooledConnection): void {
    if (handle !== undefined && poolChannels.checkin.hasSubscribers) publishCheckin(this, record, handle.checkedOutAt, true)
    if (poolWide) {
      this._log.info({ err, connection: record.id }, 'Disconnection detected; invalidating connections older than this one')
      this._markStale(record)
    }
    if (record.holders > 1) {
      // StaticPool: other handles share the connection; mark it so the last one discards it.
      record.broken = true
      record.holders--
      return
    }
    this._drop(record, err)
    this.#finishCheckin(record, null)
  }

  /**
   * A connection returned with a statement still running (client abort, handler timeout). KILL
   * QUERY stops the statement; once it has settled the connection is healthy and is rolled back
   * (or COM_RESET) and returned as usual, which costs no reconnect. If killing is off, fails, or
   * the statement doesn't settle within `resetTimeout`, the connection is destroyed instead (the
   * statement's caller gets `abortReason`) and its server thread killed.
   */
  async #interrupt (handle: PooledConnection, record: ConnectionRecord, conn: DriverConnection, state: HandleState): Promise<void> {
    const threadId = coreOf(conn).threadId
    const endpoint = endpointOf(conn)
    const kill = this._opts.killAbandoned && threadId != null && endpoint !== undefined
    const deadline = this._opts.resetTimeout
    if (kill && await this.killStatement(record)) {
      const settled = await withDeadline(handle.whenIdle(), deadline, 'interrupt', noop).then(() => true, () => false)
      if (settled && record.connection === conn && !record.broken && isConnectionUsable(conn)) {
        // What the interrupted work left behind is unknown: always undo it, never commit it.
        return this.#resetAndCheckin(record, conn, this._opts.resetOnReturn === 'reset' ? 'reset' : 'rollback')
      }
    }
    this._drop(record, new Error('Connection returned while a statement was running'), state.abortReason)
    this.#finishCheckin(record, null)
    if (kill) void this.#killer.kill(threadId, 'CONNECTION', endpoint)
  }

  /** HandleOwner: KILL QUERY on the slot's connection, bounded as a whole (KILLs queue on one side connection). */
  killStatement (record: ConnectionRecord): Promise<boolean> {
    const conn = record.connection
    const threadId = conn === null ? null : coreOf(conn).threadId
    const endpoint = conn === null ? undefined : endpointOf(conn)
    if (!this._opts.killAbandoned || threadId == null || endpoint === undefined) return Promise.resolve(false)
    return withDeadline(this.#killer.kill(threadId, 'QUERY', endpoint), this._opts.resetTimeout, 'kill', noop).catch(() => false)
  }

  /**
   * Graceful end: reject waiters and new checkouts, wait up to `closeTimeout` for checked-out
   * connections to come back, then close every connection (destroying the stragglers).
   */
  async close (): Promise<void> {
    if (this._closed) return this.#closing
    this._closed = true
    this._stopAccepting()
    this.#closing = this.#drainAndClose()
    return this.#closing
  }

  #closing: Promise<void> = Promise.resolve()
  #drained: (() => void) | undefined = undefined
  /** close() stopped waiting: a connection that finishes opening now is closed, not handed out. */
  #closedAll = false

  /**
   * Something is still checked out or being opened: the subclass's count, or any slot held,
   * including slots of an older dispose epoch (forgotten by the counters, not by close()).
   */
  #busy (): boolean {
    if (this._outstanding() > 0) return true
    for (const record of this._records) if (record.holders > 0) return true
    return false
  }

  async #drainAndClose (): Promise<void> {
    if (this.#busy()) {
      await new Promise<void>((resolve) => {
        this.#drained = resolve
        if (Number.isFinite(this._opts.closeTimeout)) setTimeout(resolve, this._opts.closeTimeout).unref()
      })
      this.#drained = undefined
      if (this.#busy()) this._log.warn({ dbPool: this.stats() }, 'Pool closed with connections still checked out; they were closed')
    }
    this.#closedAll = true
    const ends: Promise<void>[] = []
    for (const record of this._records) {
      // Stragglers still checked out are destroyed; their running statements fail with PoolClosedError.
      if (record.connection !== null && record.holders > 0) {
        void this._closeConnection(record, true, new PoolClosedError('The pool was closed while this statement was running'))
      } else {
        ends.push(this._closeConnection(record, false))
      }
    }
    this._records.clear()
    await Promise.all(ends)
    await this.#killer.close()
  }

  /** Subclasses call this when a slot comes back after close() began. */
  protected _returnedWhileClosing (record: ConnectionRecord): void {
    this._forget(record)
  }
}

function noop (): void {}
