/**
 * The replicas of one primary and the choice among them. A replica session goes to the healthy
 * replica with the fewest connections in use plus checkouts waiting (ties: round-robin): a
 * replica that is slower — busy applying a backlog, smaller machine — holds its connections
 * longer and so gets fewer new sessions, where round-robin would keep feeding it its equal share
 * (ProxySQL and MaxScale default to the same "least current operations" idea). With causal
 * reads, the session first waits (bounded) until that replica has applied this process's last
 * commit; if it can't, or no replica is usable, the read goes to the primary through a read-only
 * pool of its own, so a replica route never writes, wherever it runs.
 */
import { QueryError } from '../errors'
import type { Pool } from '../pool/base-pool'
import { abortReason, type CheckoutOptions } from '../pool/checkout-signal'
import type { PoolLogger } from '../pool/logger'
import type { PooledConnection } from '../pool/pooled-connection'
import type { PoolStats } from '../pool/stats'
import type { CheckoutSource } from '../session/session'
import type { GtidTracker } from './gtid'
import type { MonitoredReplica, ReplicaHealth, ReplicaState } from './replica-monitor'

export interface Replica extends MonitoredReplica {
  readonly pool: Pool
}

/** One replica in `app.db.stats().replicas`: its pool's stats, its health as last measured and its causal-read counts. */
export interface ReplicaStats extends PoolStats {
  replica: string
  state: ReplicaState
  /** ms, as last measured; null when unknown or not replicating. */
  lagMs: number | null
  /** Date.now() of the last health check. */
  checkedAt: number
  /** Sessions that waited for this process's last commit here. */
  causalWaits: number
  /** Of those, the ones that gave up (`causalReadsTimeout`) and read the primary. */
  causalTimeouts: number
}

export interface ReplicaSetOptions {
  /** The read-only pool on the primary, made on first use. */
  primaryReadOnly: () => Pool
  /** Set when `causalReads` is on. */
  gtid: GtidTracker | undefined
  /** ms a replica session waits for the last commit before reading the primary. */
  causalReadsTimeout: number
  log: PoolLogger
}

/** In SQL as seconds; -1 (timeout) or NULL (no such position) both mean "read the primary". */
const WAIT_SQL = 'SELECT MASTER_GTID_WAIT(?, ?) AS w'

export class ReplicaSet {
  readonly replicas: readonly Replica[]
  readonly #opts: ReplicaSetOptions
  readonly #waits = new Map<Replica, { waits: number, timeouts: number }>()
  #next = 0
  #anyUsable: boolean | undefined = undefined
  #primaryReadOnly: Pool | undefined = undefined
  /** Sessions of replica routes that ran on the primary (no usable replica, or a causal wait that timed out). */
  primaryReads = 0

  constructor (replicas: readonly Replica[], options: ReplicaSetOptions) {
    this.replicas = replicas
    this.#opts = options
    for (const r of replicas) this.#waits.set(r, { waits: 0, timeouts: 0 })
  }

  /** The healthy replica with the fewest connections in use and waiting; undefined when none is healthy. */
  pick (): Replica | undefined {
    let best: Replica | undefined
    let bestLoad = Infinity
    const n = this.replicas.length
    const start = this.#next++ % n
    for (let i = 0; i < n; i++) {
      const r = this.replicas[(start + i) % n]
      if (r.health.state !== 'healthy' || r.pool.closed) continue
      const s = r.pool.stats()
      const load = s.checkedOut + s.waiting
      if (load < bestLoad) {
        best = r
        bestLoad = load
      }
    }
    return best
  }

  /** Where replica sessions take their connection. */
  readonly source: CheckoutSource = { connect: (options) => this.#connect(options) }

  async #connect (options?: CheckoutOptions): Promise<PooledConnection> {
    const replica = this.pick()
    if (replica !== undefined) {
      const conn = await this.#onReplica(replica, options)
      if (conn !== undefined) return conn
    }
    if (options?.signal?.aborted === true) throw abortReason(options.signal)
    this.primaryReads++
    this.#primaryReadOnly ??= this.#opts.primaryReadOnly()
    return this.#primaryReadOnly.connect(options)
  }

  /** A connection on the replica, after the causal wait; undefined when the primary must serve. */
  async #onReplica (replica: Replica, options: CheckoutOptions | undefined): Promise<PooledConnection | undefined> {
    let conn: PooledConnection
    try {
      conn = await replica.pool.connect(options)
    } catch (err) {
      if (options?.signal?.aborted === true) throw err
      this.#opts.log.debug({ err, replica: replica.label }, 'No connection from the replica; reading the primary')
      return undefined
    }
    const position = this.#opts.gtid?.position
    if (position === undefined) return conn
    const counts = this.#waits.get(replica) as { waits: number, timeouts: number }
    counts.waits++
    let caughtUp = false
    try {
      const [rows] = await conn.query(WAIT_SQL, [position, this.#opts.causalReadsTimeout / 1000])
      caughtUp = Number((rows as Array<{ w: unknown }>)[0].w) === 0
      if (!caughtUp) counts.timeouts++
    } catch (err) {
      counts.timeouts++
      this.#opts.log.debug({ err: new QueryError(err), replica: replica.label }, 'Causal wait failed on the replica; reading the primary')
    } finally {
      // In finally: the connection goes back even if something above throws (a logger, say).
      if (!caughtUp) await conn.close()
    }
    return caughtUp ? conn : undefined
  }

  /** Logs once when the last usable replica goes (the primary serves) and once when one is back. */
  afterHealthCheck (): void {
    const usable = this.replicas.some((r) => r.health.state === 'healthy')
    if (usable === this.#anyUsable) return
    const first = this.#anyUsable === undefined
    this.#anyUsable = usable
    if (!usable) this.#opts.log.warn({ replicas: this.replicas.map((r) => ({ replica: r.label, state: r.health.state })) }, 'No replica usable; replica reads go to the primary')
    else if (!first) this.#opts.log.info({}, 'A replica is usable again; replica reads leave the primary')
  }

  stats (): ReplicaStats[] {
    return this.replicas.map((r) => {
      const h: ReplicaHealth = r.health
      const w = this.#waits.get(r) as { waits: number, timeouts: number }
      return { replica: r.label, ...r.pool.stats(), state: h.state, lagMs: h.lagMs, checkedAt: h.checkedAt, causalWaits: w.waits, causalTimeouts: w.timeouts }
    })
  }

  /** Closes every replica pool and the primary's read-only pool. */
  async close (): Promise<void> {
    await Promise.all([...this.replicas.map((r) => r.pool.close()), this.#primaryReadOnly?.close()])
  }
}
