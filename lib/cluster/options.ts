/**
 * The plugin options of this folder (replicas, causal reads, node lists, poolRecycle 'auto'),
 * validated at register time like every other option. The plugin's own option code hands in how
 * to resolve one connection and one set of pool options, so this file never imports it.
 */
import type { ConnectionOptions } from 'mysql2'
import { InvalidOptionError } from '../errors'
import { boolean, duration, fail, type PoolOptions } from '../pool/options'
import { nodeLabel } from './node-list'

/** A URL (`mysql://user:password@host:port/db`) or mysql2 ConnectionOptions. */
export type ConnectionOption = string | ConnectionOptions

/** Pool options a replica may set for itself; the rest (and these when absent) come from the primary's. */
export interface ReplicaPoolOptions {
  poolSize?: number
  maxOverflow?: number
  poolTimeout?: number
  poolRecycle?: number
  poolPrePing?: boolean
}

/** A replica: its connection, or `{ connection, poolSize, … }` with pool options of its own. */
export type ReplicaOption = ConnectionOption | ({ connection: ConnectionOption } & ReplicaPoolOptions)

export interface ClusterPluginOptions {
  /** Read replicas; a route with `config: { db: { replica: true } }` reads from one of them. */
  replicas?: ReplicaOption[]
  /** ms of replication lag above which a replica is skipped (default 5000). */
  replicaMaxLag?: number
  /** ms between replica health checks (default 1000). */
  replicaCheckInterval?: number
  /** ms a replica health check may take before the replica counts as unreachable (default 1000). */
  replicaCheckTimeout?: number
  /** A replica read first waits until the replica has this process's last commit (MariaDB GTIDs). */
  causalReads?: boolean
  /** ms a replica read waits for that before reading the primary instead (default 1000). */
  causalReadsTimeout?: number
  /** With `connection: [nodes…]`: ms a failed node is skipped (default 5000). */
  nodeBackoff?: number
}

export const CLUSTER_OPTION_NAMES: readonly string[] = [
  'replicas', 'replicaMaxLag', 'replicaCheckInterval', 'replicaCheckTimeout', 'causalReads', 'causalReadsTimeout', 'nodeBackoff'
]
const REPLICA_POOL_OPTION_NAMES = ['connection', 'poolSize', 'maxOverflow', 'poolTimeout', 'poolRecycle', 'poolPrePing']

export interface ResolvedReplica {
  /** `host:port`, for logs and stats. */
  label: string
  connection: ConnectionOptions
  /** The replica's own pool options, over the primary's. */
  poolOptions: PoolOptions
}

export interface ResolvedClusterOptions {
  /** The primary, or the cluster's nodes in failover order. */
  nodes: ConnectionOptions[]
  replicas: ResolvedReplica[]
  replicaMaxLag: number
  replicaCheckInterval: number
  replicaCheckTimeout: number
  causalReads: boolean
  causalReadsTimeout: number
  nodeBackoff: number
}

export interface ClusterResolvers {
  connection: (value: unknown, option: string) => ConnectionOptions
  /** Plugin-named pool options of one replica → validated pool options. */
  poolOptions: (options: ReplicaPoolOptions, option: string) => PoolOptions
}

type Raw = ClusterPluginOptions & { connection?: unknown }

export function resolveClusterOptions (options: Raw, resolve: ClusterResolvers): ResolvedClusterOptions {
  const nodes = Array.isArray(options.connection)
    ? resolveNodes(options.connection, resolve)
    : [resolve.connection(options.connection, 'connection')]
  const replicas = options.replicas === undefined ? [] : resolveReplicas(options.replicas, resolve)
  const causalReads = options.causalReads === undefined ? false : boolean('causalReads', options.causalReads)
  return {
    nodes,
    replicas,
    replicaMaxLag: duration('replicaMaxLag', options.replicaMaxLag ?? 5000, 0),
    replicaCheckInterval: duration('replicaCheckInterval', options.replicaCheckInterval ?? 1000, 10),
    replicaCheckTimeout: duration('replicaCheckTimeout', options.replicaCheckTimeout ?? 1000, 1),
    causalReads,
    causalReadsTimeout: duration('causalReadsTimeout', options.causalReadsTimeout ?? 1000, 0),
    nodeBackoff: duration('nodeBackoff', options.nodeBackoff ?? 5000, 0)
  }
}

function resolveNodes (list: unknown[], resolve: ClusterResolvers): ConnectionOptions[] {
  if (list.length === 0) fail('connection', 'a URL, mysql2 connection options, or a non-empty list of them (cluster nodes)', list)
  return list.map((node, i) => resolve.connection(node, `connection[${i}]`))
}

function resolveReplicas (list: unknown, resolve: ClusterResolvers): ResolvedReplica[] {
  if (!Array.isArray(list)) fail('replicas', 'a list of replica URLs, mysql2 connection options or { connection, poolSize, … } entries', list)
  return list.map((entry: unknown, i) => {
    const option = `replicas[${i}]`
    if (entry !== null && typeof entry === 'object' && !Array.isArray(entry) && 'connection' in entry) {
      const own = entry as { connection: unknown } & ReplicaPoolOptions
      for (const key of Object.keys(own)) {
        if (!REPLICA_POOL_OPTION_NAMES.includes(key)) {
          throw new InvalidOptionError(`${option}.${key}`, `Unknown option ${option}.${key}. Accepted in a replica entry: ${REPLICA_POOL_OPTION_NAMES.join(', ')}`)
        }
      }
      const { connection, ...poolOptions } = own
      const resolved = resolve.connection(connection, `${option}.connection`)
      return { label: nodeLabel(resolved), connection: resolved, poolOptions: resolve.poolOptions(poolOptions, option) }
    }
    const resolved = resolve.connection(entry, option)
    return { label: nodeLabel(resolved), connection: resolved, poolOptions: {} }
  })
}
