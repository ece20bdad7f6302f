/**
 * `connection: [A, B]` on two real servers: new connections go to the first healthy node; a node
 * that refuses, or turns read-only, is skipped for the back-off and its pooled connections are
 * invalidated; the app's own READ ONLY transaction does not condemn a node.
 */
import t from 'tap'
import mysql from 'mysql2/promise'
import { Session } from '../../lib/session/session'
import { DatabaseUnavailableError } from '../../lib/errors'
import { startPrivateServer, type PrivateServer } from '../helpers/private-server'
import { APP_USER_SQL } from '../helpers/replication'
import { sleep, until } from '../helpers/pool'
import { buildCluster, clusterOptions, errnoOf } from './_helpers'

// Starts real servers: slow on a loaded machine.
t.setTimeout(240_000)

let a: PrivateServer
let b: PrivateServer
const app = (s: PrivateServer): string => s.url.replace('mysql://root@', 'mysql://app:app@')

t.before(async () => {
  [a, b] = await Promise.all([startPrivateServer(), startPrivateServer()])
  for (const s of [a, b]) {
    const c = await mysql.createConnection(s.url)
    for (const sql of [...APP_USER_SQL, 'CREATE TABLE test.w (id INT AUTO_INCREMENT PRIMARY KEY)']) await c.query(sql)
    await c.end()
  }
})
t.teardown(() => Promise.all([a.remove(), b.remove()]))

async function portOf (s: Session): Promise<number> {
  const [rows] = await s.query('SELECT @@port AS p')
  return Number((rows as Array<{ p: unknown }>)[0].p)
}

async function setReadOnly (server: PrivateServer, on: boolean): Promise<void> {
  const c = await mysql.createConnection(server.url)
  await c.query(`SET GLOBAL read_only = ${on ? 1 : 0}`)
  await c.end()
}

/** Opens `n` sessions at once (so the pool holds n connections), returns the ports they ran on. */
async function ports (source: ConstructorParameters<typeof Session>[0], n: number, write = false): Promise<number[]> {
  const sessions = Array.from({ length: n }, () => new Session(source))
  try {
    return await Promise.all(sessions.map(async (s) => {
      if (write) await s.query('INSERT INTO test.w VALUES ()')
      return portOf(s)
    }))
  } finally {
    await Promise.all(sessions.map((s) => s.close()))
  }
}

t.test('first healthy node; a stopped node is skipped for the back-off, then used again', async (t) => {
  // A back-off long enough that A cannot come due again while B's connections open on a slow machine.
  const { cluster, log } = buildCluster(t, clusterOptions([a.url, b.url], [], { nodeBackoff: 2000 }), { poolSize: 3 })
  t.same(await ports(cluster.primary, 3), [a.port, a.port, a.port], 'all on the first node')
  await a.stop()
  t.same(await ports(cluster.primary, 3), [b.port, b.port, b.port], 'the next node takes over')
  t.match(cluster.stats().nodes, [{ node: `127.0.0.1:${a.port}`, up: false, reason: /ECONNREFUSED/ }, { up: true }])
  t.equal(log.calls.filter((c) => c.msg === 'Cluster node skipped; new connections go to the next node').length, 1, 'logged once')
  await a.start()
  // A logger that throws on the 'back in use' line must cost that line only: without the guard
  // the throw marked the node just back down again and lost the connection it had opened.
  const info = log.info
  log.info = (obj, msg) => {
    info(obj, msg)
    if (msg === 'Cluster node is back in use') throw new Error('the destination is broken')
  }
  t.teardown(() => { log.info = info })
  // Nor what a listener of 'up' throws (none of the package's own listens to it).
  cluster.nodes?.on('up', () => { throw new Error('a listener is broken') })
  await until(() => cluster.stats().nodes?.[0].up === true, 5000, 'the back-off over')
  // Pooled connections to B stay until recycled; new ones go to A again.
  cluster.primary.invalidateConnections(() => true, new Error('test: make the pool reconnect'))
  t.same(await ports(cluster.primary, 3), [a.port, a.port, a.port], 'back on the first node after the back-off')
  t.ok(log.calls.some((c) => c.msg === 'Cluster node is back in use'))
  t.ok(log.calls.some((c) => c.level === 'error' && /'up' event threw/.test(c.msg ?? '')), 'the throwing listener is logged')
})

t.test('a node turned read-only: connections to it are invalidated pool-wide, writes go on on the next', async (t) => {
  const { cluster, log } = buildCluster(t, clusterOptions([app(a), app(b)], [], { nodeBackoff: 60_000 }), { poolSize: 3 })
  t.same(await ports(cluster.primary, 3, true), [a.port, a.port, a.port])
  await setReadOnly(a, true)
  t.teardown(() => setReadOnly(a, false))
  const s = new Session(cluster.primary)
  const err = await s.query('INSERT INTO test.w VALUES ()').catch((e: unknown) => e)
  t.equal(errnoOf(err), 1290, 'the write in flight fails (the node went read-only under it)')
  await s.close()
  await until(() => cluster.stats().nodes?.[0].up === false, 3000, 'node A skipped')
  t.match(cluster.stats().nodes?.[0].reason, /^1290 ER_OPTION_PREVENTS_STATEMENT/)
  t.ok(cluster.primary.stats().invalidations >= 2, 'the idle connections to A were invalidated')
  t.same(await ports(cluster.primary, 3, true), [b.port, b.port, b.port], 'every write now lands on B')
  t.ok(log.calls.some((c) => c.msg === 'Cluster node skipped; new connections go to the next node' && /^1290/.test(String(c.obj.reason))))
})

t.test('a read-only node is skipped when connecting; the app\'s own READ ONLY transaction condemns nothing', async (t) => {
  await setReadOnly(a, true)
  t.teardown(() => setReadOnly(a, false))
  const { cluster } = buildCluster(t, clusterOptions([app(a), app(b)], [], { nodeBackoff: 60_000 }), { poolSize: 2 })
  t.same(await ports(cluster.primary, 1, true), [b.port], 'A skipped at connect (read_only = ON)')
  await setReadOnly(a, false)
  const { cluster: c2 } = buildCluster(t, clusterOptions([app(a), app(b)], [], { nodeBackoff: 60_000 }), { poolSize: 2 })
  const s = new Session(c2.primary)
  await s.query('START TRANSACTION READ ONLY')
  t.equal(errnoOf(await s.query('INSERT INTO test.w VALUES ()').catch((e: unknown) => e)), 1792)
  await s.close()
  await sleep(300)
  t.equal(c2.stats().nodes?.[0].up, true, 'A still in use: the probe found it writable')
  t.same(await ports(c2.primary, 1, true), [a.port])
})

t.test('every node down: a fast DatabaseUnavailableError, never a hang', async (t) => {
  const dead = ['mysql://root@127.0.0.1:1/test', 'mysql://root@127.0.0.1:2/test']
  const { cluster } = buildCluster(t, clusterOptions(dead, [], { nodeBackoff: 1000 }))
  for (let i = 0; i < 2; i++) {
    const started = Date.now()
    const err = await cluster.primary.connect().catch((e: unknown) => e)
    t.type(err, DatabaseUnavailableError)
    t.match(err, { code: 'FST_DB_UNAVAILABLE', statusCode: 503 })
    t.ok(Date.now() - started < 1000, 'fast')
  }
  t.match(cluster.stats().nodes, [{ up: false }, { up: false }])
})
