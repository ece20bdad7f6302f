/**
 * Measures each replica's health in the background: one small connection per replica (not a pool
 * slot) runs `SHOW SLAVE STATUS` every `interval` ms under a deadline. A replica is usable only
 * while both replication threads run and `Seconds_Behind_Master` is within `maxLag`; unreachable,
 * stopped or lagging replicas are skipped. State changes are logged once each, not per request.
 * Timers are unref'd (they never keep the process alive) and stop on close().
 */
import type { ConnectionOptions } from 'mysql2'
import { destroyConnection, withDeadline, type DriverConnection } from '../pool/driver'
import type { PoolLogger } from '../pool/logger'
import type { ConnectionFactory } from './node-list'

export type ReplicaState = 'unknown' | 'healthy' | 'lagging' | 'stopped' | 'unreachable'

export interface ReplicaHealth {
  state: ReplicaState
  /** Lag as last measured, in ms (`Seconds_Behind_Master` × 1000); null when not replicating or not yet measured. */
  lagMs: number | null
  /** Date.now() of the last completed check; 0 before the first. */
  checkedAt: number
  /** Short reason for the state (error code, `Slave_SQL_Running: No`...), never server text. */
  reason: string | undefined
}

export interface MonitoredReplica {
  readonly label: string
  readonly options: ConnectionOptions
  readonly health: ReplicaHealth
}

export interface MonitorOptions {
  /** ms between checks. */
  interval: number
  /** ms a check (connect + query) may take before the replica counts as unreachable. */
  timeout: number
  /** ms of lag above which a replica is skipped. */
  maxLag: number
  log: PoolLogger
  connect: ConnectionFactory
  /** Called after every round (tests, the primary fallback's log). */
  onRound?: () => void
}

interface SlaveStatusRow {
  Slave_IO_Running?: unknown
  Slave_SQL_Running?: unknown
  Seconds_Behind_Master?: unknown
}

const ER_SPECIFIC_ACCESS_DENIED = 1227

export class ReplicaMonitor {
  readonly #replicas: readonly MonitoredReplica[]
  readonly #opts: MonitorOptions
  readonly #conns = new Map<MonitoredReplica, DriverConnection>()
  #timer: NodeJS.Timeout | undefined = undefined
  #round: Promise<void> | undefined = undefined
  #stopped = false
  #warnedPrivilege = false

  constructor (replicas: readonly MonitoredReplica[], options: MonitorOptions) {
    this.#replicas = replicas
    this.#opts = options
  }

  /** Starts the checks; the first round runs now. Resolves when that round is done. */
  start (): Promise<void> {
    if (this.#timer !== undefined || this.#stopped) return this.#round ?? Promise.resolve()
    this.#timer = setInterval(() => { void this.checkNow() }, this.#opts.interval)
    this.#timer.unref()
    return this.checkNow()
  }

  /** One round over every replica (joined if one is running). */
  checkNow (): Promise<void> {
    this.#round ??= Promise.all(this.#replicas.map((r) => this.#check(r))).then(() => {
      this.#round = undefined
      this.#opts.onRound?.()
    })
    return this.#round
  }

  async stop (): Promise<void> {
    this.#stopped = true
    clearInterval(this.#timer)
    await this.#round?.catch(() => {})
    for (const conn of this.#conns.values()) destroyConnection(conn)
    this.#conns.clear()
  }

  async #check (replica: MonitoredReplica): Promise<void> {
    let next: Pick<ReplicaHealth, 'state' | 'lagMs' | 'reason'>
    try {
      const row = await withDeadline(this.#status(replica), this.#opts.timeout, 'replica check', () => this.#forget(replica))
      next = this.#judge(row)
    } catch (err) {
      this.#forget(replica)
      next = this.#failed(err)
    }
    if (this.#stopped) return
    const h = replica.health as ReplicaHealth
    const changed = h.state !== next.state
    h.state = next.state
    h.lagMs = next.lagMs
    h.reason = next.reason
    h.checkedAt = Date.now()
    if (changed) this.#logChange(replica, h)
  }

  async #status (replica: MonitoredReplica): Promise<SlaveStatusRow | undefined> {
    let conn = this.#conns.get(replica)
    if (conn === undefined) {
      conn = await this.#opts.connect(replica.options)
      // An idle monitor connection closed by the server is simply reopened next round.
      conn.on('error', () => this.#forget(replica))
      if (this.#stopped) {
        destroyConnection(conn)
        throw new Error('monitor stopped')
      }
      this.#conns.set(replica, conn)
    }
    const [rows] = await conn.query('SHOW SLAVE STATUS')
    return (rows as SlaveStatusRow[])[0]
  }

  #judge (row: SlaveStatusRow | undefined): Pick<ReplicaHealth, 'state' | 'lagMs' | 'reason'> {
    if (row === undefined) return { state: 'stopped', lagMs: null, reason: 'not a replica (SHOW SLAVE STATUS is empty)' }
    if (row.Slave_IO_Running !== 'Yes') return { state: 'stopped', lagMs: null, reason: `Slave_IO_Running: ${String(row.Slave_IO_Running)}` }
    if (row.Slave_SQL_Running !== 'Yes') return { state: 'stopped', lagMs: null, reason: `Slave_SQL_Running: ${String(row.Slave_SQL_Running)}` }
    if (row.Seconds_Behind_Master === null || row.Seconds_Behind_Master === undefined) return { state: 'stopped', lagMs: null, reason: 'Seconds_Behind_Master: NULL' }
    const lagMs = Number(row.Seconds_Behind_Master) * 1000
    if (lagMs > this.#opts.maxLag) return { state: 'lagging', lagMs, reason: `lag ${lagMs} ms > replicaMaxLag ${this.#opts.maxLag} ms` }
    return { state: 'healthy', lagMs, reason: undefined }
  }

  #failed (err: unknown): Pick<ReplicaHealth, 'state' | 'lagMs' | 'reason'> {
    const e = err as { code?: unknown, errno?: unknown } | null
    if (e?.errno === ER_SPECIFIC_ACCESS_DENIED) {
      // Without the privilege the lag can't be measured; refusing the replica would make it
      // useless, so it is used (reachable) and the log says what to grant.
      if (!this.#warnedPrivilege) {
        this.#warnedPrivilege = true
        this.#opts.log.warn({}, 'The replica user may not run SHOW SLAVE STATUS, so replica lag is not measured: GRANT SLAVE MONITOR (MariaDB ≥ 10.5.9) or REPLICATION CLIENT to it')
      }
      return { state: 'healthy', lagMs: null, reason: 'lag not measured (no SLAVE MONITOR privilege)' }
    }
    const code = e?.code ?? e?.errno
    return { state: 'unreachable', lagMs: null, reason: typeof code === 'string' || typeof code === 'number' ? String(code) : 'check failed' }
  }

  #forget (replica: MonitoredReplica): void {
    const conn = this.#conns.get(replica)
    if (conn === undefined) return
    this.#conns.delete(replica)
    destroyConnection(conn)
  }

  #logChange (replica: MonitoredReplica, h: ReplicaHealth): void {
    const fields = { replica: replica.label, state: h.state, lagMs: h.lagMs, reason: h.reason }
    if (h.state === 'healthy') this.#opts.log.info(fields, 'Replica in use')
    else this.#opts.log.warn(fields, 'Replica skipped')
  }
}

export function newHealth (): ReplicaHealth {
  return { state: 'unknown', lagMs: null, checkedAt: 0, reason: undefined }
}
