/**
 * A real 3-node Galera cluster on loopback for the failover tests: each node a private `mariadbd`
 * run as the `mysql` user (rsync state transfer fails as root, see shared/reference/test-servers.md)
 * with four ports of its own (SQL, group communication, IST, SST). galera-4 and rsync are installed
 * with apt when missing (root only; otherwise a clear error says what to install).
 */
import { execFile } from 'node:child_process'
import { existsSync } from 'node:fs'
import { promisify } from 'node:util'
import mysql from 'mysql2/promise'
import { freePort, startPrivateServer, type PrivateServer } from './private-server'

const run = promisify(execFile)
export const GALERA_PROVIDER = '/usr/lib/galera/libgalera_smm.so'

export interface GaleraCluster {
  nodes: PrivateServer[]
  urls: string[]
  /** wsrep_cluster_size as seen by node i. */
  clusterSize: (i: number) => Promise<number>
  remove: () => Promise<void>
}

/** A dead member is evicted in ~2–3 s instead of the default 5–15 s, so a kill test stays short. */
const FAST_EVICTION = 'evs.keepalive_period=PT0.5S;evs.suspect_timeout=PT2S;evs.inactive_timeout=PT3S;evs.inactive_check_period=PT0.5S;evs.install_timeout=PT3S'

let installing: Promise<void> | undefined

/** Installs galera-4 and rsync with apt when missing (once per process). */
export function ensureGalera (): Promise<void> {
  installing ??= (async () => {
    if (existsSync(GALERA_PROVIDER) && existsSync('/usr/bin/rsync')) return
    if (typeof process.getuid === 'function' && process.getuid() !== 0) {
      throw new Error('The Galera tests need galera-4 and rsync: run `apt-get install galera-4 rsync` as root')
    }
    const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' }
    await run('apt-get', ['update'], { env, timeout: 300_000 })
    await run('apt-get', ['install', '-y', 'galera-4', 'rsync'], { env, timeout: 300_000 })
  })()
  return installing
}

async function wsrepStatus (url: string, name: string): Promise<string | undefined> {
  const c = await mysql.createConnection({ uri: url, connectTimeout: 2000 })
  try {
    const [rows] = await c.query<mysql.RowDataPacket[]>('SHOW STATUS LIKE ?', [name])
    return rows[0]?.Value as string | undefined
  } finally {
    await c.end()
  }
}

async function until (check: () => Promise<boolean>, ms: number, what: string): Promise<void> {
  const deadline = Date.now() + ms
  while (Date.now() < deadline) {
    if (await check().catch(() => false)) return
    await new Promise((resolve) => setTimeout(resolve, 200))
  }
  throw new Error(`Galera: ${what} within ${ms} ms`)
}

export async function startGaleraCluster (size = 3): Promise<GaleraCluster> {
  await ensureGalera()
  const ports = await Promise.all(Array.from({ length: size }, async () => ({
    group: await freePort(), ist: await freePort(), sst: await freePort()
  })))
  const address = 'gcomm://' + ports.map((p) => `127.0.0.1:${p.group}`).join(',')
  const nodes: PrivateServer[] = []
  const remove = async (): Promise<void> => { await Promise.all(nodes.map((n) => n.remove())) }
  try {
    for (let i = 0; i < size; i++) {
      const p = ports[i]
      nodes.push(await startPrivateServer({
        asMysqlUser: true,
        readyTimeout: 120_000,
        args: [
          '--binlog-format=ROW', '--innodb-autoinc-lock-mode=2', '--wsrep-on=ON',
          `--wsrep-provider=${GALERA_PROVIDER}`, '--wsrep-cluster-name=fdbs', `--wsrep-cluster-address=${address}`,
          `--wsrep-node-address=127.0.0.1:${p.group}`, `--wsrep-node-name=n${i + 1}`,
          `--wsrep-provider-options=gmcast.listen_addr=tcp://127.0.0.1:${p.group};ist.recv_addr=127.0.0.1:${p.ist};gcache.size=16M;${FAST_EVICTION}`,
          `--wsrep-sst-receive-address=127.0.0.1:${p.sst}`, '--wsrep-sst-method=rsync',
          ...(i === 0 ? ['--wsrep-new-cluster'] : [])
        ]
      }))
      const url = nodes[i].url
      await until(async () => await wsrepStatus(url, 'wsrep_ready') === 'ON', 120_000, `node ${i + 1} not ready`)
    }
    await until(async () => Number(await wsrepStatus(nodes[0].url, 'wsrep_cluster_size')) === size, 30_000, `cluster size not ${size}`)
  } catch (err) {
    await remove()
    throw err
  }
  return {
    nodes,
    urls: nodes.map((n) => n.url),
    clusterSize: async (i) => Number(await wsrepStatus(nodes[i].url, 'wsrep_cluster_size')),
    remove
  }
}
