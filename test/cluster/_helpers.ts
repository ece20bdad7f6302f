/**
 * Shared pieces of the cluster tests: a Cluster (primary pool, replica pools, monitor) built on
 * real servers with a recording logger, closed in t.teardown, and the server a session runs on.
 */
import type { ConnectionOptions } from 'mysql2'
import { Cluster, type ClusterSetup } from '../../lib/cluster/cluster'
import type { ResolvedClusterOptions } from '../../lib/cluster/options'
import { nodeLabel } from '../../lib/cluster/node-list'
import { QueuePool } from '../../lib/pool/queue-pool'
import type { PoolOptions } from '../../lib/pool/options'
import { fakeLogger, type FakeLogger } from '../helpers/pool'

interface Teardown { teardown: (fn: () => unknown) => void }

export interface BuiltCluster { cluster: Cluster, log: FakeLogger }

export function clusterOptions (primary: string | string[], replicas: Array<string | { url: string, pool: PoolOptions }>, options: Partial<ResolvedClusterOptions> = {}): ResolvedClusterOptions {
  const conn = (url: string): ConnectionOptions => ({ uri: url, connectTimeout: 2000 })
  return {
    nodes: (Array.isArray(primary) ? primary : [primary]).map(conn),
    replicas: replicas.map((r) => {
      const url = typeof r === 'string' ? r : r.url
      return { label: nodeLabel(conn(url)), connection: conn(url), poolOptions: typeof r === 'string' ? {} : r.pool }
    }),
    replicaMaxLag: 5000,
    replicaCheckInterval: 100,
    // Long: on a loaded machine a check held up for a second would mark a healthy replica
    // unreachable mid-test (the unreachable cases use refused ports, which fail at once).
    replicaCheckTimeout: 10_000,
    causalReads: false,
    causalReadsTimeout: 1000,
    nodeBackoff: 5000,
    ...options
  }
}

export function buildCluster (t: Teardown, options: ResolvedClusterOptions, poolOptions: PoolOptions = {}, extra: Partial<ClusterSetup> = {}): BuiltCluster {
  const log = fakeLogger()
  const cluster = new Cluster({
    options,
    poolOptions: { closeTimeout: 500, logger: log, ...poolOptions },
    autoRecycle: false,
    makePool: (creator, o) => new QueuePool(creator, o),
    log,
    ...extra
  })
  t.teardown(async () => {
    await cluster.close()
    await cluster.primary.close()
  })
  return { cluster, log }
}

/** `@@server_id` of the server a session (or pool handle) runs on. */
export async function serverId (db: { query: (sql: string) => Promise<[unknown, unknown]> }): Promise<number> {
  const [rows] = await db.query('SELECT @@server_id AS id')
  return Number((rows as Array<{ id: unknown }>)[0].id)
}

/** The errno under a package error (its cause) or of a driver error. */
export function errnoOf (err: unknown): unknown {
  const e = err as { errno?: unknown, cause?: { errno?: unknown } }
  return e.cause?.errno ?? e.errno
}
