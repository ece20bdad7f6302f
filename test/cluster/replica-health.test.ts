/**
 * The replica health monitor on a real primary + replica: a replica stopped (STOP SLAVE) and one
 * killed mid-load, lag above replicaMaxLag (MASTER_DELAY), an unreachable replica, a user without
 * the privilege to see the lag. Replica reads never fail because of a replica beyond those in
 * flight on a killed one; state changes are logged once each.
 */
import t from 'tap'
import mysql from 'mysql2/promise'
import { Session } from '../../lib/session/session'
import type { Cluster } from '../../lib/cluster/cluster'
import { startReplicationPair, type ReplicationPair } from '../helpers/replication'
import { sleep, until, type FakeLogger } from '../helpers/pool'
import { recordResult } from '../helpers/http-load'
import { buildCluster, clusterOptions, serverId } from './_helpers'

// Starts real servers: slow on a loaded machine.
t.setTimeout(240_000)

let pair: ReplicationPair
t.before(async () => {
  pair = await startReplicationPair()
})
t.teardown(() => pair.remove())

const messages = (log: FakeLogger, msg: string): number => log.calls.filter((c) => c.msg === msg).length

interface ReadLoad {
  stop: () => Promise<void>
  served: Map<number, number>
  /** Each successful read: when it began (before its session routed) and the server that ran it. */
  reads: Array<{ startedAt: number, id: number }>
  failures: unknown[]
}

/** Replica reads from `workers` loops until stopped; counts where they ran and what failed. */
function readLoad (cluster: Cluster, workers: number): ReadLoad {
  const state = { running: true }
  const served = new Map<number, number>()
  const reads: ReadLoad['reads'] = []
  const failures: unknown[] = []
  const loops = Array.from({ length: workers }, async () => {
    while (state.running) {
      const startedAt = performance.now()
      const s = new Session(cluster.replicaSource())
      try {
        const id = await serverId(s)
        served.set(id, (served.get(id) ?? 0) + 1)
        reads.push({ startedAt, id })
      } catch (err) {
        failures.push(err)
      } finally {
        await s.close()
      }
      await sleep(2)
    }
  })
  return { stop: async () => { state.running = false; await Promise.all(loops) }, served, reads, failures }
}

t.test('a replica whose replication stops mid-load is skipped; the primary serves; back when it restarts', async (t) => {
  const { cluster, log } = buildCluster(t, clusterOptions(pair.primary.url, [pair.replica.url]))
  await cluster.start()
  const load = readLoad(cluster, 4)
  await sleep(300)
  await pair.onReplica('STOP SLAVE')
  await until(() => cluster.stats().replicas?.[0].state === 'stopped', 3000, 'stopped')
  const seenStoppedAt = performance.now()
  const onReplicaWhenStopped = load.served.get(2) ?? 0
  await sleep(300)
  // A read routed just before the state changed may still finish on the replica; what must not
  // happen is a read that began after the state was seen going there.
  const routedAfter = load.reads.filter((r) => r.startedAt > seenStoppedAt)
  t.ok(routedAfter.length > 0, `reads ran while the replica was stopped (${routedAfter.length})`)
  t.same(routedAfter.filter((r) => r.id === 2), [], 'no read begun after the replica is seen stopped runs on it')
  await pair.onReplica('START SLAVE')
  await until(() => cluster.stats().replicas?.[0].state === 'healthy', 3000, 'healthy again')
  await sleep(200)
  await load.stop()
  t.same(load.failures, [], 'no read failed')
  t.ok((load.served.get(1) ?? 0) > 0, 'the primary served while the replica was stopped')
  t.ok((load.served.get(2) ?? 0) > onReplicaWhenStopped, 'the replica serves again')
  t.equal(messages(log, 'Replica skipped'), 1, 'logged once when skipped')
  t.equal(messages(log, 'No replica usable; replica reads go to the primary'), 1, 'and once that the primary serves')
  t.equal(messages(log, 'Replica in use'), 2, 'in use at start and once again after the restart')
  t.match(log.calls.find((c) => c.msg === 'Replica skipped')?.obj, { state: 'stopped', reason: /Slave_(IO|SQL)_Running/ })
  recordResult('replica-stopped', { reads: [...load.served.values()].reduce((a, b) => a + b, 0), failures: load.failures.length, onPrimary: load.served.get(1) ?? 0, onReplica: load.served.get(2) ?? 0, logLines: messages(log, 'Replica skipped') })
})

t.test('a replica lagging more than replicaMaxLag is skipped until it catches up', async (t) => {
  const { cluster, log } = buildCluster(t, clusterOptions(pair.primary.url, [pair.replica.url], { replicaMaxLag: 1000 }))
  await cluster.start()
  const writer = await mysql.createConnection(pair.primary.url)
  t.teardown(() => writer.end())
  await writer.query('CREATE TABLE IF NOT EXISTS test.ticks (id INT AUTO_INCREMENT PRIMARY KEY)')
  await pair.setDelay(3)
  const state = { writing: true }
  const writes = (async () => {
    while (state.writing) {
      await writer.query('INSERT INTO test.ticks VALUES ()')
      await sleep(100)
    }
  })()
  await until(() => cluster.stats().replicas?.[0].state === 'lagging', 8000, 'lagging')
  const stats = cluster.stats().replicas?.[0]
  t.ok((stats?.lagMs ?? 0) > 1000, `lag measured above the limit (${stats?.lagMs} ms)`)
  recordResult('replica-lagging', { lagMs: stats?.lagMs, replicaMaxLag: 1000 })
  const s = new Session(cluster.replicaSource())
  t.equal(await serverId(s), 1, 'a lagging replica is skipped')
  await s.close()
  state.writing = false
  await writes
  await pair.setDelay(0)
  await until(() => cluster.stats().replicas?.[0].state === 'healthy', 8000, 'caught up')
  const s2 = new Session(cluster.replicaSource())
  t.equal(await serverId(s2), 2, 'used again once caught up')
  await s2.close()
  // (setDelay's STOP/START SLAVE may also be seen as a short 'stopped'.)
  t.match(log.calls.find((c) => c.msg === 'Replica skipped' && c.obj.state === 'lagging')?.obj, { reason: /lag \d+ ms > replicaMaxLag 1000 ms/ })
})

t.test('an unreachable replica is skipped; a user without SLAVE MONITOR gets one warning and the replica is used', async (t) => {
  const dead = `mysql://root@127.0.0.1:${pair.replica.port === 1 ? 2 : 1}/test`
  const { cluster, log } = buildCluster(t, clusterOptions(pair.primary.url, [dead, pair.replicaAppUrl]))
  await cluster.start()
  const [gone, app] = cluster.stats().replicas ?? []
  t.match(gone, { state: 'unreachable', lagMs: null })
  t.match(app, { state: 'healthy', lagMs: null })
  await cluster.replicaSet?.replicas[1].pool.connect().then((c) => c.close())
  await cluster.start() // already started: joins, no second timer
  await sleep(350)
  t.equal(log.calls.filter((c) => /SLAVE MONITOR/.test(c.msg ?? '')).length, 1, 'the privilege warning is logged once')
  for (let i = 0; i < 5; i++) {
    const s = new Session(cluster.replicaSource())
    t.equal(await serverId(s), 2, 'reads go to the reachable replica')
    await s.close()
  }
  await cluster.close()
  const checkedAt = cluster.stats().replicas?.[1].checkedAt
  await sleep(300)
  t.equal(cluster.stats().replicas?.[1].checkedAt, checkedAt, 'no check after close')
})

t.test('a replica server killed mid-load: only reads in flight on it fail; the primary serves until it is back', async (t) => {
  const { cluster, log } = buildCluster(t, clusterOptions(pair.primary.url, [pair.replica.url]), { poolSize: 2 })
  await cluster.start()
  const load = readLoad(cluster, 4)
  await sleep(300)
  await pair.replica.kill()
  await until(() => cluster.stats().replicas?.[0].state === 'unreachable', 3000, 'unreachable')
  await sleep(300)
  const atRestart = load.failures.length
  await pair.replica.start()
  await until(() => cluster.stats().replicas?.[0].state === 'healthy', 10_000, 'healthy again')
  await sleep(200)
  await load.stop()
  t.ok(load.failures.length <= 4, `at most the 4 reads in flight failed (${load.failures.length})`)
  t.equal(load.failures.length, atRestart, 'none after the replica was seen unreachable')
  t.ok((load.served.get(1) ?? 0) > 0, 'the primary served meanwhile')
  t.equal(messages(log, 'No replica usable; replica reads go to the primary'), 1)
  recordResult('replica-killed', { reads: [...load.served.values()].reduce((a, b) => a + b, 0) + load.failures.length, failures: load.failures.length, onPrimary: load.served.get(1) ?? 0, onReplica: load.served.get(2) ?? 0 })
})
