/**
 * A real 3-node Galera cluster behind `connection: [n1, n2, n3]`: the writer node is SIGKILLed
 * under write load and writes carry on on the next node, with no failed request beyond those in
 * flight on the killed node and no acknowledged write lost; then a node answering 1047 (not
 * ready for application use) is skipped like a dead one.
 */
import t from 'tap'
import mysql from 'mysql2/promise'
import { Session } from '../../lib/session/session'
import { startGaleraCluster, type GaleraCluster } from '../helpers/galera'
import { sleep, until } from '../helpers/pool'
import { recordResult } from '../helpers/http-load'
import { buildCluster, clusterOptions, errnoOf } from './_helpers'

// Starts real servers (Galera: three, with state transfer): slow on a loaded machine.
t.setTimeout(300_000)

let galera: GaleraCluster
t.before(async () => {
  galera = await startGaleraCluster(3)
  const c = await mysql.createConnection(galera.urls[0])
  await c.query('CREATE TABLE test.orders (id INT AUTO_INCREMENT PRIMARY KEY, worker INT, node INT)')
  await c.end()
})
t.teardown(() => galera?.remove()) // undefined when the cluster failed to start

interface Outcome { worker: number, started: number, ended: number, ok: boolean, err?: unknown }

t.test('the writer node SIGKILLed mid-load: writes carry on on the next node', async (t) => {
  const { cluster, log } = buildCluster(t, clusterOptions(galera.urls, [], { nodeBackoff: 60_000 }), { poolSize: 6, timeout: 20_000 })
  const outcomes: Outcome[] = []
  const state = { running: true }
  const workers = Array.from({ length: 6 }, async (_, worker) => {
    while (state.running) {
      const o: Outcome = { worker, started: Date.now(), ended: 0, ok: false }
      const s = new Session(cluster.primary)
      try {
        if (worker % 2 === 0) {
          await s.query('INSERT INTO test.orders (worker, node) VALUES (?, @@port)', [worker])
        } else {
          await s.transaction(async () => { await s.query('INSERT INTO test.orders (worker, node) VALUES (?, @@port)', [worker]) })
        }
        o.ok = true
      } catch (err) {
        o.err = err
      } finally {
        await s.close()
        o.ended = Date.now()
        outcomes.push(o)
      }
      await sleep(5)
    }
  })
  await sleep(1000)
  const killedAt = Date.now()
  await galera.nodes[0].kill()
  // Until the client has seen the sockets close, a checkout may still get a connection to the dead node.
  const seenDead = Date.now() + 100
  // Writes pause while the cluster evicts the dead member, then go on.
  await until(() => outcomes.filter((o) => o.ok && o.started > killedAt).length >= 50, 60_000, '50 writes after the kill')
  state.running = false
  await Promise.all(workers)

  const failed = outcomes.filter((o) => !o.ok)
  const inFlight = outcomes.filter((o) => o.started <= killedAt && o.ended >= killedAt).length
  const perWorker = new Set(failed.map((o) => o.worker))
  t.equal(perWorker.size, failed.length, `at most one failed request per worker: the one it had on the killed node (${failed.length} failed, ${inFlight} in flight at the kill)`)
  t.ok(failed.every((o) => o.started <= seenDead), 'no request started after the kill was seen failed')
  const after = outcomes.filter((o) => o.started > seenDead)
  t.ok(after.length > 0 && after.every((o) => o.ok), `all ${after.length} requests started after the kill succeeded`)
  const pause = Math.max(...after.map((o) => o.ended - o.started))
  t.ok(pause < 15_000, `slowest request after the kill ${pause} ms`)

  const check = await mysql.createConnection(galera.urls[1])
  t.teardown(() => check.end())
  const [[count]] = await check.query<mysql.RowDataPacket[]>('SELECT COUNT(*) AS n FROM test.orders')
  const ok = outcomes.filter((o) => o.ok).length
  t.ok(Number(count.n) >= ok && Number(count.n) <= ok + failed.length, `every acknowledged write is there (${ok} acknowledged, ${String(count.n)} rows)`)
  t.match(cluster.stats().nodes?.[0], { up: false, reason: /ECONNREFUSED|PROTOCOL_CONNECTION_LOST|ECONNRESET/ })
  t.ok(log.calls.some((c) => c.msg === 'Cluster node skipped; new connections go to the next node'))
  t.comment(JSON.stringify(failed.map((o) => ({ startedMs: o.started - killedAt, endedMs: o.ended - killedAt, code: (o.err as { code?: string }).code, errno: errnoOf(o.err) }))))
  const figures = { requests: outcomes.length, failed: failed.length, inFlightAtKill: inFlight, afterKill: after.length, slowestAfterKillMs: pause, acknowledged: ok, rows: Number(count.n) }
  recordResult('galera-kill', figures)
  t.comment(JSON.stringify(figures))
})

t.test('a node answering 1047 is skipped; its connections are invalidated; the next node serves', async (t) => {
  const { cluster } = buildCluster(t, clusterOptions(galera.urls.slice(1), [], { nodeBackoff: 60_000 }), { poolSize: 3 })
  const port = async (): Promise<number> => {
    const s = new Session(cluster.primary)
    try {
      const [rows] = await s.query('SELECT @@port AS p, (SELECT COUNT(*) FROM test.orders) AS n')
      return Number((rows as Array<{ p: unknown }>)[0].p)
    } finally {
      await s.close()
    }
  }
  t.equal(await port(), galera.nodes[1].port)
  const admin = await mysql.createConnection(galera.urls[1])
  await admin.query('SET GLOBAL wsrep_reject_queries = ALL')
  t.teardown(async () => {
    await admin.query('SET GLOBAL wsrep_reject_queries = NONE').catch(() => {})
    await admin.end()
  })
  const err = await port().catch((e: unknown) => e)
  t.equal(errnoOf(err), 1047, 'the statement in flight gets 1047')
  t.match(cluster.stats().nodes?.[0], { up: false, reason: /^1047/ })
  t.equal(await port(), galera.nodes[2].port, 'the next statement runs on the next node')
})
