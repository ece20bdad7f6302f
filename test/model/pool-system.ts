/**
 * The system under test for the model-based run: a real QueuePool on a real MariaDB, driven in
 * lock-step with the reference model. After every operation it waits until the pool is quiet,
 * then checks the model's predictions: which checkouts settled and how (which slot, reconnected or
 * not, which error), the counters and status(), no connection held by two handles, waiters served
 * in FIFO order, close() resolved exactly when it should. At the end every server thread the pool
 * opened must be idle in the pool or closed (information_schema.PROCESSLIST).
 */
import assert from 'node:assert/strict'
import { performance } from 'node:perf_hooks'
import mysql from 'mysql2/promise'
import { DatabaseUnavailableError, PoolClosedError } from '../../lib/errors'
import { QueuePool } from '../../lib/pool/queue-pool'
import type { ConnectionRecord } from '../../lib/pool/connection-record'
import type { PooledConnection } from '../../lib/pool/pooled-connection'
import { aliveThreads, killThread } from '../helpers/db'
import { fakeLogger, sleep } from '../helpers/pool'
import { FaultyCreator } from './faulty-creator'
import { PoolModel, type ModelOptions, type ModelSlot, type Outcome } from './reference-model'

/** close() timeouts the model knows: 0 (gives up at once) or one no sequence reaches. */
export const LONG_CLOSE_TIMEOUT = 60_000
// Generous: the machine may be loaded; only a real hang waits this long.
const SETTLE_MS = 20_000

interface Checkout {
  promise: Promise<PooledConnection>
  settled: boolean
  handle?: PooledConnection
  error?: unknown
  controller: AbortController
}

/** A clock seam for recycle: the pool reads performance.now(); the model run moves it forward. */
let clockOffset = 0
let clockInstalled = false
export function installClock (): void {
  if (clockInstalled) return
  clockInstalled = true
  const original = performance.now.bind(performance)
  performance.now = () => original() + clockOffset
}

export class PoolSystem {
  readonly model: PoolModel
  readonly pool: QueuePool
  readonly creator: FaultyCreator
  readonly handles = new Map<number, PooledConnection>()
  readonly checkouts = new Map<number, Checkout>()
  /** Model slot key → the real slot. */
  readonly records = new Map<number, ConnectionRecord>()
  readonly lastThread = new Map<ConnectionRecord, number>()
  closing: { promise: Promise<void>, done: boolean } | undefined = undefined
  /** Operations checked against the model. */
  steps = 0
  #nextId = 1

  constructor (readonly options: ModelOptions, url: string, readonly admin: mysql.Connection) {
    installClock()
    this.model = new PoolModel(options)
    this.creator = new FaultyCreator(url)
    this.pool = new QueuePool(this.creator.create, {
      poolSize: options.poolSize,
      maxOverflow: options.maxOverflow,
      useLifo: options.useLifo,
      recycle: options.recycle,
      recycleJitter: 0,
      closeTimeout: options.closeTimeout,
      timeout: 600_000,
      connectTimeout: 60_000,
      logger: fakeLogger()
    })
  }

  // ---- operations (model and real in lock-step) ----
  async connect (): Promise<void> {
    const id = this.#nextId++
    const controller = new AbortController()
    const c: Checkout = { promise: this.pool.connect({ signal: controller.signal }), settled: false, controller }
    c.promise.then((h) => { c.handle = h; c.settled = true }, (err: unknown) => { c.error = err; c.settled = true })
    this.checkouts.set(id, c)
    await this.#verify(this.model.connect(id))
  }

  async closeHandle (i: number): Promise<void> {
    const id = this.#heldId(i)
    const outcomes = this.model.closeHandle(id)
    const handle = this.#take(id)
    await handle.close()
    await this.#verify(outcomes)
  }

  async invalidate (i: number): Promise<void> {
    const id = this.#heldId(i)
    const outcomes = this.model.invalidate(id)
    this.#take(id).invalidate()
    await this.#verify(outcomes)
  }

  async use (i: number): Promise<void> {
    const id = this.#heldId(i)
    const handle = this.handles.get(id) as PooledConnection
    const expectedThread = this.lastThread.get(handle.record as ConnectionRecord)
    const { ok, outcomes } = this.model.use(id)
    const result = await handle.query<mysql.RowDataPacket[]>('SELECT CONNECTION_ID() AS id').then(
      ([rows]) => ({ ok: true as const, id: Number(rows[0].id) }),
      (err: unknown) => ({ ok: false as const, err }))
    assert.equal(result.ok, ok, `statement on handle ${id} should ${ok ? 'succeed' : 'fail'}`)
    if (result.ok) assert.equal(result.id, expectedThread, 'the handle runs on the server thread it was handed out with')
    else this.handles.delete(id)
    await this.#verify(outcomes)
  }

  /** KILL the server thread of a held (held = true) or idle connection; wait until the pool noticed. */
  async kill (i: number, held: boolean): Promise<void> {
    const slots = held ? this.#heldLive() : this.model.idle.filter((s) => s.state === 'live' && s.seen)
    const slot = slots[i % slots.length]
    const record = this.records.get(slot.key) as ConnectionRecord
    const conn = record.connection
    assert.ok(conn !== null, `slot ${slot.key} should have a live connection`)
    await killThread(this.admin, conn.threadId)
    this.model.kill(slot)
    await until(() => held ? record.broken : record.connection === null, `the pool to notice the killed thread ${conn.threadId}`)
    await this.#verify([])
  }

  async arm (fault: 'fail' | 'hang'): Promise<void> {
    this.model.arm(fault)
    this.creator.faults.push(fault)
    await this.#verify([])
  }

  async release (i: number): Promise<void> {
    const hung = this.model.pending.filter((p) => p.kind === 'hung')
    const k = i % hung.length
    const outcomes = this.model.release(hung[k].id)
    this.creator.release(k)
    await this.#verify(outcomes)
  }

  async advance (): Promise<void> {
    const ms = this.options.recycle + 1
    this.model.advance(ms)
    clockOffset += ms
    await this.#verify([])
  }

  async dispose (): Promise<void> {
    const outcomes = this.model.dispose()
    await this.pool.dispose()
    await this.#verify(outcomes)
  }

  async close (): Promise<void> {
    const outcomes = this.model.close()
    const closing = { promise: this.pool.close(), done: false }
    void closing.promise.then(() => { closing.done = true })
    this.closing = closing
    if (this.options.closeTimeout === 0 && this.model.busy()) {
      await withTimeout(closing.promise, SETTLE_MS, 'close() with closeTimeout 0')
      this.model.closeTimedOut()
    }
    await this.#verify(outcomes)
  }

  async abort (i: number): Promise<void> {
    const waiting = this.model.pending.filter((p) => p.abandoned !== true)
    const id = waiting[i % waiting.length].id
    const outcomes = this.model.abort(id)
    ;(this.checkouts.get(id) as Checkout).controller.abort(new Error(`model abort of checkout ${id}`))
    await this.#verify(outcomes)
  }

  /**
   * End of a sequence: hung connects released, handles returned; then every thread the creator
   * opened is either behind an idle live slot or gone, and after close() all are gone.
   */
  async finish (): Promise<void> {
    // Returning a handle can start a connect that hangs (a waiter's reconnect): loop until neither is left.
    while (this.model.held.size > 0 || this.model.pending.some((p) => p.kind === 'hung')) {
      if (this.model.pending.some((p) => p.kind === 'hung')) await this.release(0)
      else await this.closeHandle(0)
    }
    if (!this.model.closed) {
      // Idle slots opened for an abandoned checkout were never seen: counted, not named.
      const live = this.model.idle.filter((s) => s.state === 'live')
      const seen = live.filter((s) => s.seen).map((s) => (this.records.get(s.key) as ConnectionRecord).connection?.threadId as number)
      assert.equal(new Set(seen).size, seen.length, 'no connection is idle twice')
      await until(async () => (await aliveThreads(this.admin, this.creator.opened)).length === live.length, 'threads not idle in the pool to be closed')
      assert.deepEqual((await aliveThreads(this.admin, seen)).sort(), [...seen].sort(), 'idle connections are open on the server')
      await this.close()
    }
    await withTimeout((this.closing as { promise: Promise<void> }).promise, SETTLE_MS, 'close() at the end')
    await until(async () => (await aliveThreads(this.admin, this.creator.opened)).length === 0, 'every thread the pool opened to be closed after close()')
    for (const [id, c] of this.checkouts) assert.ok(c.settled, `checkout ${id} settled by the end`)
  }

  /** After a failure: release and return everything, close the pool, whatever state it is in. */
  async teardown (): Promise<void> {
    while (this.creator.hung.length > 0) this.creator.release(0)
    await sleep(20)
    for (const c of this.checkouts.values()) await c.handle?.close().catch(() => {})
    await withTimeout(this.pool.close(), SETTLE_MS, 'teardown close()').catch(() => {})
  }

  // ---- checks ----
  async #verify (outcomes: Outcome[]): Promise<void> {
    this.steps++
    for (const o of outcomes) await this.#expectOutcome(o)
    // Let anything that should not happen have its chance to happen.
    await sleep(1)
    await until(() => this.creator.inProgress === this.creator.hung.length, 'connects in progress to finish')
    const pendingIds = new Set(this.model.pending.filter((p) => p.abandoned !== true).map((p) => p.id))
    for (const [id, c] of this.checkouts) {
      if (pendingIds.has(id)) assert.equal(c.settled, false, `checkout ${id} should still be pending`)
      else assert.equal(c.settled, true, `checkout ${id} should have settled`)
    }
    this.#compareCounters()
    this.#checkHeld()
    await this.#checkClose()
  }

  async #expectOutcome (o: Outcome): Promise<void> {
    const c = this.checkouts.get(o.id) as Checkout
    await until(() => c.settled, `checkout ${o.id} to settle`)
    if (!o.ok) {
      assert.ok(c.handle === undefined, `checkout ${o.id} should fail (${o.error}), got a connection`)
      if (o.error === 'closed') assert.ok(c.error instanceof PoolClosedError, `checkout ${o.id}: PoolClosedError expected, got ${String(c.error)}`)
      if (o.error === 'unavailable') assert.ok(c.error instanceof DatabaseUnavailableError, `checkout ${o.id}: DatabaseUnavailableError expected, got ${String(c.error)}`)
      if (o.error === 'aborted') assert.equal(c.error, c.controller.signal.reason, `checkout ${o.id}: rejected with the abort reason`)
      return
    }
    assert.ok(c.handle !== undefined, `checkout ${o.id} should succeed, got ${String(c.error)}`)
    const handle = c.handle
    const record = handle.record as ConnectionRecord
    const known = this.records.get(o.slot.key)
    if (o.firstSight) {
      assert.equal(known, undefined)
      assert.ok(![...this.records.values()].includes(record), `checkout ${o.id} should get a new slot, got slot ${record.id} again`)
      this.records.set(o.slot.key, record)
    } else {
      assert.equal(record, known, `checkout ${o.id} should get slot ${known?.id}, got ${record.id} (FIFO/LIFO order)`)
    }
    const thread = record.connection?.threadId as number
    const previous = this.lastThread.get(record)
    if (o.firstSight || o.reconnected) {
      assert.notEqual(thread, previous, `checkout ${o.id} should get a new connection`)
      assert.ok(this.creator.opened.includes(thread), 'a connection the creator opened')
    } else {
      assert.equal(thread, previous, `checkout ${o.id} should reuse connection ${previous}`)
    }
    this.lastThread.set(record, thread)
    this.handles.set(o.id, handle)
  }

  #compareCounters (): void {
    const m = this.model
    const p = this.pool
    const got = { size: p.size(), checkedin: p.checkedin(), overflow: p.overflow(), checkedout: p.checkedout(), waiting: p.stats().waiting }
    const want = { size: m.size, checkedin: m.checkedin(), overflow: m.overflow(), checkedout: m.checkedout(), waiting: m.waiting() }
    assert.deepEqual(got, want, 'counters match the model')
    assert.equal(p.status(), m.status())
    assert.ok(p.checkedout() >= 0, 'checkedout never negative')
    if (m.maxOverflow >= 0) assert.ok(p.overflow() <= m.maxOverflow, 'overflow never above maxOverflow')
  }

  #checkHeld (): void {
    assert.deepEqual([...this.handles.keys()].sort(), [...this.model.held.keys()].sort(), 'held handles match the model')
    const records = new Set<ConnectionRecord>()
    const threads = new Set<number>()
    for (const [id, h] of this.handles) {
      const record = h.record as ConnectionRecord
      assert.ok(!records.has(record), `slot ${record.id} held by two handles`)
      records.add(record)
      if ((this.model.held.get(id) as ModelSlot).state !== 'live') continue
      const thread = record.connection?.threadId as number
      assert.ok(!threads.has(thread), `connection ${thread} held by two handles`)
      threads.add(thread)
    }
  }

  async #checkClose (): Promise<void> {
    if (this.closing === undefined) return
    if (this.model.closeResolved()) {
      const closing = this.closing
      await until(() => closing.done, 'close() to resolve once nothing is checked out or connecting')
    } else {
      assert.equal(this.closing.done, false, 'close() must wait for checked-out and connecting slots of every epoch')
    }
  }

  #heldId (i: number): number {
    const ids = [...this.model.held.keys()]
    return ids[i % ids.length]
  }

  #heldLive (): ModelSlot[] {
    return [...this.model.held.values()].filter((s) => s.state === 'live')
  }

  #take (id: number): PooledConnection {
    const h = this.handles.get(id) as PooledConnection
    this.handles.delete(id)
    return h
  }
}

async function until (check: () => boolean | Promise<boolean>, what: string): Promise<void> {
  // Date.now(), not performance.now(): the latter is the model's movable clock.
  const deadline = Date.now() + SETTLE_MS
  while (!await check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`)
    await sleep(1)
  }
}

function withTimeout<T> (p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined
  return Promise.race([p, new Promise<never>((_resolve, reject) => {
    timer = setTimeout(() => reject(new Error(`timed out waiting for ${what}`)), ms)
  })]).finally(() => clearTimeout(timer))
}
