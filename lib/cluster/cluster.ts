/**
 * Puts this folder's pieces together for one plugin registration: the primary's creator (one
 * server, or a node list with failover), server facts and `poolRecycle: 'auto'` on its first
 * connection, GTID tracking for causal reads, the replica pools with their health monitor, and
 * the read-only pool on the primary that serves replica routes when no replica can.
 */
import mysql from 'mysql2/promise'
import type { ConnectionOptions } from 'mysql2'
import { PoolClosedError } from '../errors'
import type { Creator, Pool } from '../pool/base-pool'
import { destroyConnection, type DriverConnection } from '../pool/driver'
import { guardLogger, type PoolLogger } from '../pool/logger'
import { resolvePoolOptions, type PoolOptions } from '../pool/options'
import type { CheckoutSource } from '../session/session'
import { applyHooks, type ConnectionHooks } from './connection-hooks'
import { GtidTracker, TRACK_LAST_GTID_SQL } from './gtid'
import { NodeList, type ConnectionFactory } from './node-list'
import type { ResolvedClusterOptions } from './options'
import { newHealth, ReplicaMonitor } from './replica-monitor'
import { ReplicaSet, type Replica, type ReplicaStats } from './replica-set'
import { autoRecycle, ServerFactsProbe, type ServerFacts } from './server-facts'

/** Every statement of a replica session runs read-only, whatever the user's privileges (1792 otherwise). */
export const READ_ONLY_SQL = 'SET SESSION TRANSACTION READ ONLY'

export interface ClusterSetup {
  options: ResolvedClusterOptions
  /** The primary's pool options (plugin options already mapped). */
  poolOptions: PoolOptions
  /** `poolRecycle: 'auto'`: recycle set from the server's wait_timeout on the first connection. */
  autoRecycle: boolean
  /** Builds a pool of the configured class. */
  makePool: (creator: Creator, poolOptions: PoolOptions) => Pool
  log: PoolLogger
  /** Opens one connection; mysql2's createConnection unless a test wraps it. */
  connect?: ConnectionFactory
}

/** A cluster node in `app.db.stats().nodes`. */
export interface NodeStats {
  node: string
  /** False while skipped after a failure. */
  up: boolean
  /** Why it was last skipped. */
  reason: string | undefined
}

const defaultConnect: ConnectionFactory = (options) => mysql.createConnection(options)

export class Cluster {
  readonly primary: Pool
  readonly nodes: NodeList | undefined
  /** Always there: with no replicas configured, replica sessions run on the primary, read-only. */
  readonly replicaSet: ReplicaSet
  readonly gtid: GtidTracker | undefined
  readonly #monitor: ReplicaMonitor | undefined
  readonly #facts: ServerFactsProbe
  readonly #setup: ClusterSetup
  readonly #connect: ConnectionFactory
  readonly #autoRecyclePools: Pool[] = []
  #closed = false
  readonly #log: PoolLogger
  /** The primary's recycle now (set from wait_timeout under 'auto'), for the start-up warnings. */
  #recycle: number

  constructor (setup: ClusterSetup) {
    this.#setup = setup
    this.#connect = setup.connect ?? defaultConnect
    const { options } = setup
    // The node list, replica checks and server facts log from the middle of their bookkeeping;
    // a throwing logger must cost the line only (idempotent: the plugin's logger is guarded already).
    const log = guardLogger(setup.log)
    this.#log = log
    const resolved = resolvePoolOptions(setup.poolOptions)
    this.#recycle = resolved.recycle
    this.#facts = new ServerFactsProbe('fastify-db-session', () => ({ ...resolved, recycle: this.#recycle, writes: true }), log, (facts) => this.#gotFacts(facts))
    const hasReplicas = options.replicas.length > 0
    this.gtid = options.causalReads && hasReplicas ? new GtidTracker() : undefined
    const gtid = this.gtid
    const hooks: ConnectionHooks = gtid === undefined ? {} : { setup: [TRACK_LAST_GTID_SQL], onResult: (r) => gtid.noteResult(r) }
    if (options.nodes.length > 1) {
      this.nodes = new NodeList(options.nodes, { backoff: options.nodeBackoff, probeTimeout: resolved.pingTimeout, log, hooks, connect: this.#connect })
      const nodes = this.nodes
      nodes.on('down', (node, reason) => {
        const onNode = (c: DriverConnection): boolean => nodes.nodeOf(c) === node
        const why = new Error(`Cluster node ${node.label} skipped (${reason})`)
        for (const pool of this.#writerPools()) pool.invalidateConnections(onNode, why)
      })
    }
    this.primary = setup.makePool(this.#creator(hooks, true), setup.poolOptions)
    if (setup.autoRecycle) this.#autoRecyclePools.push(this.primary)
    const replicas: Replica[] = options.replicas.map((r) => {
      const pool = setup.makePool(this.#replicaCreator(r.connection), { ...setup.poolOptions, ...r.poolOptions })
      if (setup.autoRecycle && r.poolOptions.recycle === undefined) this.#autoRecyclePools.push(pool)
      return { label: r.label, options: r.connection, health: newHealth(), pool }
    })
    this.replicaSet = new ReplicaSet(replicas, {
      primaryReadOnly: () => this.#primaryReadOnly(),
      gtid,
      causalReadsTimeout: options.causalReadsTimeout,
      log
    })
    const set = this.replicaSet
    if (!hasReplicas) return
    this.#monitor = new ReplicaMonitor(replicas, {
      interval: options.replicaCheckInterval,
      timeout: options.replicaCheckTimeout,
      maxLag: options.replicaMaxLag,
      log,
      connect: this.#connect,
      onRound: () => set.afterHealthCheck()
    })
  }

  /** The server's limits, once the primary's first connection has read them. */
  get serverFacts (): ServerFacts | undefined {
    return this.#facts.facts
  }

  /** Starts the replica health checks; resolves when the first round is done (bounded by replicaCheckTimeout). */
  start (): Promise<void> {
    return this.#monitor?.start() ?? Promise.resolve()
  }

  /** Where replica sessions take their connection: a replica, or the primary read-only when none can serve. */
  replicaSource (): CheckoutSource {
    return this.replicaSet.source
  }

  /** Stops the monitor and closes the replica pools; the primary pool is the plugin's to close. */
  async close (): Promise<void> {
    if (this.#closed) return
    this.#closed = true
    await this.#monitor?.stop()
    await this.replicaSet.close()
  }

  stats (): { replicas?: ReplicaStats[], nodes?: NodeStats[] } {
    const out: { replicas?: ReplicaStats[], nodes?: NodeStats[] } = {}
    if (this.replicaSet.replicas.length > 0) out.replicas = this.replicaSet.stats()
    if (this.nodes !== undefined) {
      const now = Date.now()
      out.nodes = this.nodes.nodes.map((n) => ({ node: n.label, up: n.downUntil <= now, reason: n.reason }))
    }
    return out
  }

  #readOnlyPool: Pool | undefined = undefined

  #primaryReadOnly (): Pool {
    if (this.#closed) throw new PoolClosedError()
    this.#readOnlyPool ??= this.#setup.makePool(this.#creator({}, false, { setup: [READ_ONLY_SQL] }), this.#setup.poolOptions)
    if (this.#setup.autoRecycle && this.serverFacts !== undefined) this.#readOnlyPool.setRecycle(autoRecycle(this.serverFacts.waitTimeout))
    return this.#readOnlyPool
  }

  #writerPools (): Pool[] {
    return this.#readOnlyPool === undefined ? [this.primary] : [this.primary, this.#readOnlyPool]
  }

  /**
   * A creator on the primary: the node list's (which applies the primary's hooks itself, plus
   * `extra` on top) or the single server's with `hooks`; `readFacts` on the writer pool only.
   */
  #creator (hooks: ConnectionHooks, readFacts: boolean, extra?: ConnectionHooks): Creator {
    const nodes = this.nodes
    let open: () => Promise<DriverConnection>
    if (nodes === undefined) open = () => this.#open(() => this.#connect(this.#setup.options.nodes[0]), extra ?? hooks)
    else open = extra === undefined ? nodes.creator : () => this.#open(nodes.creator, extra)
    if (!readFacts) return open
    return async () => {
      const conn = await open()
      await this.#facts.readOnce(conn)
      return conn
    }
  }

  #replicaCreator (options: ConnectionOptions): Creator {
    return () => this.#open(() => this.#connect(options), { setup: [READ_ONLY_SQL] })
  }

  async #open (connect: () => Promise<DriverConnection>, hooks: ConnectionHooks): Promise<DriverConnection> {
    const conn = await connect()
    if (hooks.setup === undefined && hooks.onResult === undefined && hooks.onError === undefined) return conn
    try {
      return await applyHooks(conn, hooks)
    } catch (err) {
      destroyConnection(conn)
      throw err
    }
  }

  #gotFacts (facts: ServerFacts): void {
    if (this.#setup.autoRecycle) {
      const ms = autoRecycle(facts.waitTimeout)
      this.#recycle = ms
      for (const pool of this.#autoRecyclePools) pool.setRecycle(ms)
      this.#readOnlyPool?.setRecycle(ms)
    }
    if (this.gtid !== undefined && !facts.mariadb) {
      this.#log.warn({ version: facts.version }, 'causalReads needs MariaDB GTIDs (@@last_gtid, MASTER_GTID_WAIT); this server is not MariaDB, so replica reads do not wait for this process\'s writes')
    }
  }
}
