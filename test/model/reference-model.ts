/**
 * A small reference model of QueuePool: SQLAlchemy's semantics (../shared/reference/sqlalchemy-pool.md
 * §1.3-1.6: `_overflow` accounting, FIFO/LIFO idle queue, lazy reconnect of an invalidated slot,
 * recycle and pool-wide invalidation at checkout, the slot of a failed reconnect kept, dispose
 * forgetting checked-out slots) plus this project's documented changes: strict FIFO hand-off to
 * waiters, capacity freed by a failed connect goes to the longest waiter, slots of an older dispose
 * epoch are closed when they come back, and close() waits (bounded) for every slot of every epoch.
 *
 * It knows nothing of sockets: the harness (pool-system.ts) drives a real QueuePool and this model
 * with the same operations and compares them after every step. The model works at "quiet"
 * granularity: an operation runs to the point where nothing can progress without a new operation
 * (a waiter waits, a connect hangs).
 */

export type SlotState = 'live' | 'empty' | 'broken' | 'destroyed'

export interface ModelSlot {
  /** Model-local name; the harness maps it to the real ConnectionRecord on first sight. */
  readonly key: number
  epoch: number
  state: SlotState
  /** Pool generation when its connection was opened. */
  generation: number
  /** Model clock when its connection was opened. */
  openedAt: number
  /** Still counted by the pool (false once forgotten: discarded, closed, old epoch returned). */
  alive: boolean
  /** Handed out at least once (the harness has seen its real slot). */
  seen: boolean
  /** (Re)connected since it was last handed out (e.g. by a checkout that was then abandoned). */
  reopened: boolean
}

export type Fault = 'fail' | 'hang'

export interface Pending {
  readonly id: number
  kind: 'waiting' | 'hung'
  /** For a hung connect: the slot being opened and whether it is a new slot. */
  slot?: ModelSlot
  isNew?: boolean
  /** Its caller aborted while it was being opened: the connection goes to the pool when it arrives. */
  abandoned?: boolean
}

/** How a checkout ended, as the model predicts it. */
export type Outcome =
  | { id: number, ok: true, slot: ModelSlot, firstSight: boolean, reconnected: boolean }
  | { id: number, ok: false, error: 'closed' | 'unavailable' | 'aborted' }

export interface ModelOptions {
  poolSize: number
  maxOverflow: number
  useLifo: boolean
  /** -1 = off; else ms on the model's (fake) clock. */
  recycle: number
  /** 0 = close() gives up at once; otherwise treated as never reached within a sequence. */
  closeTimeout: number
}

interface Open { slot: ModelSlot, isNew: boolean, pending: Pending }

export class PoolModel {
  readonly size: number
  readonly maxOverflow: number
  overflowCount: number
  idle: ModelSlot[] = []
  /** Handle id → slot. */
  readonly held = new Map<number, ModelSlot>()
  /** Checkouts not yet settled, in arrival order: waiters in the queue and connects that hang. */
  pending: Pending[] = []
  faults: Fault[] = []
  generation = 0
  epoch = 0
  clock = 0
  closed = false
  /** close() stopped waiting (drained or timed out): late connects are refused and closed. */
  closedAll = false
  /** Outcomes produced by the current step, in order. */
  outcomes: Outcome[] = []
  #nextKey = 1
  #opens: Open[] = []

  constructor (readonly options: ModelOptions) {
    this.size = options.poolSize
    this.maxOverflow = options.poolSize === 0 ? -1 : options.maxOverflow
    this.overflowCount = -options.poolSize
  }

  // ---- accessors, SQLAlchemy's formulas ----
  checkedin (): number { return this.idle.length }
  overflow (): number { return this.size === 0 ? 0 : this.overflowCount }
  checkedout (): number { return this.size - this.idle.length + this.overflowCount }
  waiting (): number { return this.pending.filter((p) => p.kind === 'waiting').length }
  status (): string {
    return `Pool size: ${this.size}  Connections in pool: ${this.checkedin()} Current Overflow: ${this.overflow()} Current Checked out connections: ${this.checkedout()}`
  }

  /** Held or being opened, whatever the epoch: what close() waits for. */
  busy (): boolean {
    return this.held.size > 0 || this.pending.some((p) => p.kind === 'hung')
  }

  /** close() has resolved. */
  closeResolved (): boolean {
    return this.closedAll
  }

  // ---- operations; each returns the outcomes it produced ----
  connect (id: number): Outcome[] {
    return this.#step(() => {
      const p: Pending = { id, kind: 'waiting' }
      if (this.closed) {
        this.outcomes.push({ id, ok: false, error: 'closed' })
        return
      }
      if (this.waiting() === 0) {
        const slot = this.options.useLifo ? this.idle.pop() : this.idle.shift()
        if (slot !== undefined) return this.#checkout(slot, false, p)
        if (this.#hasCapacity()) return this.#checkoutNew(p)
      }
      this.pending.push(p)
    })
  }

  /** handle.close(): a broken or destroyed connection is dropped, the slot goes back. */
  closeHandle (handle: number): Outcome[] {
    return this.#step(() => {
      const slot = this.#release(handle)
      if (slot.state !== 'live') slot.state = 'empty'
      this.#returnSlot(slot)
    })
  }

  /** handle.invalidate(): connection discarded, slot back at once. */
  invalidate (handle: number): Outcome[] {
    return this.#step(() => {
      const slot = this.#release(handle)
      slot.state = 'empty'
      this.#returnSlot(slot)
    })
  }

  /**
   * A statement on the handle. On a broken connection it fails with a disconnect: pool-wide
   * invalidation (the generation moves unless the connection is older than the mark) and the slot
   * goes back empty. Returns whether the statement succeeds.
   */
  use (handle: number): { ok: boolean, outcomes: Outcome[] } {
    const slot = this.held.get(handle) as ModelSlot
    if (slot.state === 'live') return { ok: true, outcomes: [] }
    const outcomes = this.#step(() => {
      if (slot.generation === this.generation) this.generation++
      this.#release(handle)
      slot.state = 'empty'
      this.#returnSlot(slot)
    })
    return { ok: false, outcomes }
  }

  /** The server killed the thread; the pool noticed (idle: dropped at once; held: broken). */
  kill (slot: ModelSlot): void {
    slot.state = [...this.held.values()].includes(slot) ? 'broken' : 'empty'
  }

  arm (fault: Fault): void {
    this.faults.push(fault)
  }

  /** A hung connect finally completes. */
  release (pendingId: number): Outcome[] {
    return this.#step(() => {
      const i = this.pending.findIndex((p) => p.id === pendingId)
      const p = this.pending[i]
      this.pending.splice(i, 1)
      this.#opened(p.slot as ModelSlot, p.isNew as boolean, p)
    })
  }

  advance (ms: number): void {
    this.clock += ms
  }

  dispose (): Outcome[] {
    return this.#step(() => {
      if (this.closed) return
      for (const slot of this.idle) slot.alive = false
      this.idle = []
      this.epoch++
      this.overflowCount = -this.size
      // Capacity is free again: waiters are served in order while it lasts.
      while (this.waiting() > 0 && this.#hasCapacity()) this.#checkoutNew(this.#nextWaiter() as Pending)
    })
  }

  close (): Outcome[] {
    return this.#step(() => {
      this.closed = true
      for (const p of this.pending.filter((q) => q.kind === 'waiting')) this.outcomes.push({ id: p.id, ok: false, error: 'closed' })
      this.pending = this.pending.filter((q) => q.kind !== 'waiting')
      for (const slot of this.idle) slot.alive = false
      this.overflowCount -= this.idle.length
      this.idle = []
      this.#maybeDrained()
    })
  }

  /** close()'s closeTimeout fired: stragglers are destroyed, late connects will be refused. */
  closeTimedOut (): void {
    if (this.closedAll) return
    this.closedAll = true
    for (const slot of this.held.values()) if (slot.state !== 'empty') slot.state = 'destroyed'
  }

  /**
   * The checkout's AbortSignal fired: rejected at once with its reason. A waiter leaves the queue;
   * a connect in progress goes on and its slot goes to the next waiter or the pool when it arrives.
   */
  abort (pendingId: number): Outcome[] {
    return this.#step(() => {
      const p = this.pending.find((q) => q.id === pendingId) as Pending
      if (p.kind === 'waiting') this.pending = this.pending.filter((q) => q !== p)
      else p.abandoned = true
      this.outcomes.push({ id: pendingId, ok: false, error: 'aborted' })
    })
  }

  // ---- the algorithm ----
  #step (fn: () => void): Outcome[] {
    this.outcomes = []
    fn()
    // Connects run after the synchronous part, in the order they were started (creator call order).
    while (this.#opens.length > 0) this.#runOpen(this.#opens.shift() as Open)
    return this.outcomes
  }

  #hasCapacity (): boolean {
    return this.maxOverflow === -1 || this.overflowCount < this.maxOverflow
  }

  #nextWaiter (): Pending | undefined {
    const i = this.pending.findIndex((p) => p.kind === 'waiting')
    if (i < 0) return undefined
    return this.pending.splice(i, 1)[0]
  }

  #release (handle: number): ModelSlot {
    const slot = this.held.get(handle) as ModelSlot
    this.held.delete(handle)
    return slot
  }

  #newSlot (): ModelSlot {
    return { key: this.#nextKey++, epoch: this.epoch, state: 'empty', generation: this.generation, openedAt: this.clock, alive: true, seen: false, reopened: false }
  }

  #checkoutNew (p: Pending): void {
    this.overflowCount++
    this.#checkout(this.#newSlot(), true, p)
  }

  #stale (slot: ModelSlot): boolean {
    return slot.generation < this.generation || (this.options.recycle >= 0 && this.clock - slot.openedAt > this.options.recycle)
  }

  #checkout (slot: ModelSlot, isNew: boolean, p: Pending): void {
    if (slot.state === 'live' && !this.#stale(slot)) {
      this.#handOut(slot, p)
      return
    }
    // Reconnect (empty slot) or recycle (stale): the old connection is closed first.
    slot.state = 'empty'
    this.#opens.push({ slot, isNew, pending: p })
  }

  #runOpen (open: Open): void {
    const fault = this.faults.shift()
    if (fault === 'fail') {
      this.outcomes.push({ id: open.pending.id, ok: false, error: 'unavailable' })
      this.#checkoutFailed(open.slot, open.isNew)
      return
    }
    if (fault === 'hang') {
      open.pending.kind = 'hung'
      open.pending.slot = open.slot
      open.pending.isNew = open.isNew
      this.pending.push(open.pending)
      return
    }
    this.#opened(open.slot, open.isNew, open.pending)
  }

  #opened (slot: ModelSlot, isNew: boolean, p: Pending): void {
    slot.state = 'live'
    slot.generation = this.generation
    slot.openedAt = this.clock
    slot.reopened = true
    if (this.closedAll) {
      // Opened after close() gave up: refused, and the late connection closed.
      if (p.abandoned !== true) this.outcomes.push({ id: p.id, ok: false, error: 'closed' })
      this.#checkoutFailed(slot, isNew)
      return
    }
    if (p.abandoned === true) return this.#returnSlot(slot)
    this.#handOut(slot, p)
  }

  #handOut (slot: ModelSlot, p: Pending): void {
    this.held.set(p.id, slot)
    this.outcomes.push({ id: p.id, ok: true, slot, firstSight: !slot.seen, reconnected: slot.reopened })
    slot.seen = true
    slot.reopened = false
  }

  #checkoutFailed (slot: ModelSlot, isNew: boolean): void {
    slot.state = 'empty'
    if (!isNew) {
      this.#returnSlot(slot) // SQLAlchemy #2772: the slot survives, empty
      return
    }
    slot.alive = false
    if (slot.epoch !== this.epoch) return this.#maybeDrained()
    this.overflowCount--
    if (this.closed) return this.#maybeDrained()
    const waiter = this.#nextWaiter()
    if (waiter !== undefined) this.#checkoutNew(waiter)
  }

  #returnSlot (slot: ModelSlot): void {
    if (slot.epoch !== this.epoch) {
      slot.alive = false
      return this.#maybeDrained()
    }
    if (this.closed) {
      this.overflowCount--
      slot.alive = false
      return this.#maybeDrained()
    }
    const waiter = this.#nextWaiter()
    if (waiter !== undefined) return this.#checkout(slot, false, waiter)
    if (this.size === 0 || this.idle.length < this.size) {
      this.idle.push(slot)
    } else {
      this.overflowCount--
      slot.alive = false
    }
  }

  #maybeDrained (): void {
    if (this.closed && !this.busy()) this.closedAll = true
  }
}
