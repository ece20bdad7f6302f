/**
 * `connection: [nodeA, nodeB, nodeC]`: a pool creator that opens each new connection on the first
 * healthy node of the list, so the pool itself knows nothing of clusters.
 *
 * First healthy, not round-robin: on Galera, writes to the same rows from two nodes at once fail
 * certification (a deadlock, often on COMMIT), so one writer node is what MaxScale and ProxySQL
 * default to; for a primary with a standby the list order *is* the failover order. A node that
 * refuses connections, answers 1047 (not in the primary component) or turns out read-only is
 * skipped for `nodeBackoff` ms, and every connection the pool has to it is invalidated (listeners
 * of `down`), so a failover never leaves read-only connections in the pool.
 */
import { EventEmitter } from 'node:events'
import type { ConnectionOptions } from 'mysql2'
import { DatabaseUnavailableError } from '../errors'
import { destroyConnection, isDisconnectError, withDeadline, type DriverConnection } from '../pool/driver'
import type { PoolLogger } from '../pool/logger'
import { applyHooks, type ConnectionHooks } from './connection-hooks'

export interface ClusterNode {
  /** `host:port`, for logs (never credentials). */
  readonly label: string
  readonly options: ConnectionOptions
  /** Date.now() before which the node is skipped. */
  downUntil: number
  /** Why it was last marked down. */
  reason: string | undefined
}

/** Errors that say the node, not the statement, is the problem. */
export const ER_NOT_PRIMARY_COMPONENT = 1047
const READ_ONLY_ERRNOS = new Set([1290, 1792, 1836])

export type ConnectionFactory = (options: ConnectionOptions) => Promise<DriverConnection>

export interface NodeListOptions {
  /** ms a failed node is skipped. */
  backoff: number
  /** Deadline of the probe that checks a node is writable, in ms. */
  probeTimeout: number
  log: PoolLogger
  /** What each new connection gets besides the node check (set-up, observers). */
  hooks?: ConnectionHooks
  /** Opens one connection (mysql2's createConnection by default; tests may wrap it). */
  connect: ConnectionFactory
}

/**
 * Read-only, and for a Galera node whether it takes application queries: a node outside the
 * primary component (wsrep_ready OFF) or told to reject queries still answers table-less SELECTs,
 * so its state is asked for (NULL on a server without wsrep).
 */
export const NODE_PROBE_SQL = 'SELECT @@global.read_only AS ro, ' +
  "(SELECT VARIABLE_VALUE FROM information_schema.GLOBAL_VARIABLES WHERE VARIABLE_NAME = 'WSREP_ON') AS wsrep, " +
  "(SELECT VARIABLE_VALUE FROM information_schema.GLOBAL_STATUS WHERE VARIABLE_NAME = 'WSREP_READY') AS ready, " +
  "(SELECT VARIABLE_VALUE FROM information_schema.GLOBAL_VARIABLES WHERE VARIABLE_NAME = 'WSREP_REJECT_QUERIES') AS reject"

export class NodeList extends EventEmitter<{ down: [node: ClusterNode, reason: string], up: [node: ClusterNode] }> {
  readonly nodes: readonly ClusterNode[]
  readonly #opts: NodeListOptions
  readonly #nodeOf = new WeakMap<DriverConnection, ClusterNode>()
  readonly #verifying = new Set<ClusterNode>()

  constructor (nodes: readonly ConnectionOptions[], options: NodeListOptions) {
    super()
    this.nodes = nodes.map((o) => ({ label: nodeLabel(o), options: o, downUntil: 0, reason: undefined }))
    this.#opts = options
  }

  /** The node a connection of this list was opened on. */
  nodeOf (conn: DriverConnection): ClusterNode | undefined {
    return this.#nodeOf.get(conn)
  }

  /** The pool's creator: the first node not backed off that accepts a writable connection. */
  readonly creator = async (): Promise<DriverConnection> => {
    const now = Date.now()
    const ready = this.nodes.filter((n) => n.downUntil <= now)
    // Every node backed off: try them all anyway, the one that failed longest ago first.
    const order = ready.length > 0 ? ready : [...this.nodes].sort((a, b) => a.downUntil - b.downUntil)
    let lastError: unknown
    for (const node of order) {
      let conn: DriverConnection
      try {
        conn = await this.#open(node)
      } catch (err) {
        lastError = err
        this.markDown(node, describeFailure(err))
        continue
      }
      // Outside the try: what a log line or an 'up' listener throws must not mark a node down
      // that just gave a connection (nor lose that connection).
      if (node.reason !== undefined) {
        node.reason = undefined
        this.#opts.log.info({ node: node.label }, 'Cluster node is back in use')
        try {
          this.emit('up', node)
        } catch (err) {
          this.#opts.log.error({ err, node: node.label }, "A listener of the node list's 'up' event threw; the node is in use all the same")
        }
      }
      return conn
    }
    throw lastError instanceof DatabaseUnavailableError ? lastError : new DatabaseUnavailableError(lastError)
  }

  /** Skips the node for the back-off period and tells listeners (which invalidate its connections). */
  markDown (node: ClusterNode, reason: string): void {
    const first = node.downUntil <= Date.now()
    node.downUntil = Date.now() + this.#opts.backoff
    node.reason = reason
    if (first) {
      this.#opts.log.warn({ node: node.label, reason, backoffMs: this.#opts.backoff }, 'Cluster node skipped; new connections go to the next node')
      this.emit('down', node, reason)
    }
  }

  async #open (node: ClusterNode): Promise<DriverConnection> {
    const conn = await this.#opts.connect(node.options)
    try {
      await withDeadline(probe(conn), this.#opts.probeTimeout, 'node check', () => destroyConnection(conn))
      this.#nodeOf.set(conn, node)
      return await applyHooks(conn, { ...this.#opts.hooks, onError: (err) => this.#statementFailed(conn, err) })
    } catch (err) {
      destroyConnection(conn)
      throw err
    }
  }

  /**
   * A statement failed. 1047 condemns the node at once. A read-only error (1290/1792/1836) or a
   * disconnect may be the app's own doing (a READ ONLY transaction, a KILL): a fresh probe
   * connection decides, once at a time per node.
   */
  #statementFailed (conn: DriverConnection, err: unknown): void {
    const e = this.#opts.hooks?.onError
    e?.(err)
    const node = this.#nodeOf.get(conn)
    if (node === undefined || node.downUntil > Date.now()) return
    const errno = (err as { errno?: unknown }).errno
    if (errno === ER_NOT_PRIMARY_COMPONENT) {
      this.markDown(node, describeFailure(err))
      return
    }
    if (typeof errno !== 'number' || !READ_ONLY_ERRNOS.has(errno)) {
      if (!isDisconnectError(err)) return
    }
    if (this.#verifying.has(node)) return
    this.#verifying.add(node)
    this.#verify(node).finally(() => this.#verifying.delete(node))
  }

  async #verify (node: ClusterNode): Promise<void> {
    let conn: DriverConnection | undefined
    try {
      conn = await withDeadline(this.#opts.connect(node.options), this.#opts.probeTimeout, 'node check', () => {})
      await withDeadline(probe(conn), this.#opts.probeTimeout, 'node check', () => destroyConnection(conn as DriverConnection))
    } catch (err) {
      this.markDown(node, describeFailure(err))
    } finally {
      if (conn !== undefined) destroyConnection(conn)
    }
  }
}

/** Throws when the node can't take writes: 1047 from Galera, or read_only on. */
async function probe (conn: DriverConnection): Promise<void> {
  const [rows] = await conn.query(NODE_PROBE_SQL)
  const row = (rows as Array<{ ro: unknown, wsrep: unknown, ready: unknown, reject: unknown }>)[0]
  if (row.wsrep === 'ON' && (row.ready !== 'ON' || (row.reject !== null && row.reject !== 'NONE'))) {
    throw Object.assign(new Error('The Galera node does not take application queries'), { code: 'ER_UNKNOWN_COM_ERROR', errno: ER_NOT_PRIMARY_COMPONENT })
  }
  if (Number(row.ro) === 1) {
    throw Object.assign(new Error('The node is read-only (read_only = ON)'), { code: 'ER_OPTION_PREVENTS_STATEMENT', errno: 1290 })
  }
}

function describeFailure (err: unknown): string {
  const e = (err instanceof DatabaseUnavailableError ? err.cause : err) as { code?: unknown, errno?: unknown } | null
  // A server error by number and name (1290 ER_OPTION_PREVENTS_STATEMENT), a network one by name (ECONNREFUSED).
  const parts = [typeof e?.errno === 'number' && e.errno > 0 ? String(e.errno) : '', typeof e?.code === 'string' ? e.code : ''].filter((p) => p !== '')
  return parts.length > 0 ? parts.join(' ') : 'connect failed'
}

/** `host:port` of mysql2 options (or of their URL), never the user or password. */
export function nodeLabel (options: ConnectionOptions): string {
  if (typeof options.uri === 'string') {
    try {
      const u = new URL(options.uri)
      return `${u.hostname}:${u.port === '' ? '3306' : u.port}`
    } catch {
      return 'unknown'
    }
  }
  return `${options.host ?? 'localhost'}:${options.port ?? 3306}`
}
