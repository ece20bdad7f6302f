/**
 * Edges of the cluster pieces on the ordinary test database: option resolution, a replica whose
 * pool can't connect or whose causal wait fails (the primary serves), a node-list connection
 * killed under a session (the probe finds the node alive: it stays in use), session set-up that
 * fails.
 */
import t from 'tap'
import mysql from 'mysql2/promise'
import { applyHooks } from '../../lib/cluster/connection-hooks'
import { resolvePluginOptions } from '../../lib/options'
import { Session } from '../../lib/session/session'
import { databaseUrl, killThread } from '../helpers/db'
import { admin, sleep } from '../helpers/pool'
import { buildCluster, clusterOptions, errnoOf } from './_helpers'

t.test('plugin options: node lists, replica entries with their own pool options, poolRecycle auto', async (t) => {
  const o = resolvePluginOptions({
    connection: ['mysql://u:p@a:3306/db', { host: 'b', port: 3307, user: 'u' }],
    replicas: ['mysql://u:p@r1/db', { connection: { host: 'r2' }, poolSize: 2, poolTimeout: 100 }],
    causalReads: true,
    poolSize: 7
  })
  if (o.cluster === undefined) throw new Error('no cluster options')
  t.equal(o.autoRecycle, true, "'auto' is the default")
  t.same(o.cluster.nodes.map((n) => n.uri ?? `${n.host}:${n.port}`), ['mysql://u:p@a:3306/db', 'b:3307'])
  t.same(o.connection, o.cluster.nodes[0], 'connection is the first node')
  t.same(o.cluster.replicas.map((r) => r.label), ['r1:3306', 'r2:3306'], 'labels without credentials')
  t.same(o.cluster.replicas[1].poolOptions, { poolSize: 2, timeout: 100 }, 'plugin names mapped to the pool')
  t.same(o.cluster.replicas[0].poolOptions, {})
  t.match(o.cluster, { causalReads: true, causalReadsTimeout: 1000, replicaMaxLag: 5000, replicaCheckInterval: 1000, replicaCheckTimeout: 1000, nodeBackoff: 5000 })
  t.equal(resolvePluginOptions({ connection: 'mysql://a/db', poolRecycle: 'auto' }).autoRecycle, true)
  const fixed = resolvePluginOptions({ connection: 'mysql://a/db', poolRecycle: 60_000 })
  t.equal(fixed.autoRecycle, false)
  t.equal(fixed.poolOptions.recycle, 60_000)
  t.throws(() => resolvePluginOptions({ connection: 'mysql://a/db', replicas: [{ connection: 'mysql://r/db', poolTimeout: -1 }] }), { option: 'replicas[0].poolTimeout', message: /replicas\[0\]\.poolTimeout/ })
  t.throws(() => resolvePluginOptions({ connection: 'mysql://a/db', replicas: [{ connection: 'ftp://r/db' }] }), { option: 'replicas[0].connection', message: /Invalid option replicas\[0\]\.connection: unsupported protocol/ })
})

t.test('a replica that refuses connections, or whose causal wait fails: the primary serves', async (t) => {
  const url = await databaseUrl()
  const { cluster, log } = buildCluster(t, clusterOptions(url, ['mysql://root@127.0.0.1:1/test'], { causalReads: true, causalReadsTimeout: 50 }))
  const [dead] = cluster.replicaSet.replicas
  dead.health.state = 'healthy' // as if the monitor had not noticed yet
  const s = new Session(cluster.replicaSource())
  t.same((await s.query('SELECT 1 AS one'))[0], [{ one: 1 }], 'served')
  await s.close()
  t.equal(cluster.replicaSet.primaryReads, 1, 'by the primary')
  t.ok(log.calls.some((c) => c.msg === 'No connection from the replica; reading the primary'))

  // A "replica" that is the primary's own server: MASTER_GTID_WAIT there fails on a domain out of range.
  const { cluster: c2, log: log2 } = buildCluster(t, clusterOptions(url, [url], { causalReads: true, causalReadsTimeout: 50 }))
  c2.replicaSet.replicas[0].health.state = 'healthy'
  c2.gtid?.note('4294967296-1-1')
  const s2 = new Session(c2.replicaSource())
  await s2.query('SELECT 1')
  await s2.close()
  t.match(c2.stats().replicas?.[0], { causalWaits: 1, causalTimeouts: 1, checkedOut: 0 }, 'counted, and the replica connection went back')
  t.ok(log2.calls.some((c) => c.msg === 'Causal wait failed on the replica; reading the primary'))
  t.equal(c2.replicaSet.primaryReads, 1)
})

t.test('a node-list connection killed under a session: the probe finds the node alive, it stays in use', async (t) => {
  const url = await databaseUrl()
  const db = await admin(t)
  const { cluster } = buildCluster(t, clusterOptions([url, 'mysql://root@127.0.0.1:1/test'], [], { nodeBackoff: 60_000 }), { poolSize: 1 })
  const s = new Session(cluster.primary)
  const [rows] = await s.query('SELECT CONNECTION_ID() AS id')
  await killThread(db, Number((rows as Array<{ id: unknown }>)[0].id))
  const err = await s.query('SELECT 1').catch((e: unknown) => e)
  t.match(err, { code: 'FST_DB_DISCONNECTED' })
  await s.close()
  await sleep(300)
  t.match(cluster.stats().nodes, [{ up: true }, { up: true }], 'no node condemned by a killed connection')
  const s2 = new Session(cluster.primary)
  t.same((await s2.query('SELECT 1 AS one'))[0], [{ one: 1 }])
  await s2.close()
})

t.test('session set-up that fails rejects the connection', async (t) => {
  const conn = await mysql.createConnection(await databaseUrl())
  t.teardown(() => conn.end())
  const err = await applyHooks(conn, { setup: ['SET SESSION no_such_variable = 1'] }).catch((e: unknown) => e)
  t.equal(errnoOf(err), 1193, 'the set-up error is the creator\'s error')
  const errors: unknown[] = []
  await applyHooks(conn, { onError: (e) => errors.push(e) })
  await conn.query('SELECT no_such_column').catch(() => {})
  t.equal(errors.length, 1, 'an observer sees a failed statement')
  t.equal(errnoOf(errors[0]), 1054)
})
