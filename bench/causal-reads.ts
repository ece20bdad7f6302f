/**
 * `npm run bench:causal`: what causal reads cost, against the same reads without them, measured in
 * one run on a private primary + GTID replica (started here, removed at the end).
 *
 * - replica read: a session on the replica, one primary-key SELECT, close; with causalReads the
 *   session first runs MASTER_GTID_WAIT (the replica is caught up, so it returns at once);
 * - primary write: an autocommit INSERT; with causalReads each primary connection tracks
 *   `last_gtid` in its OK packets.
 * Variants alternate round by round; the median per operation of each is reported, and the ratio.
 */
import { performance } from 'node:perf_hooks'
import mysql from 'mysql2/promise'
import { Cluster } from '../lib/cluster/cluster'
import { resolveClusterOptions } from '../lib/cluster/options'
import { resolveConnection } from '../lib/options'
import { QueuePool } from '../lib/pool/queue-pool'
import { Session } from '../lib/session/session'
import { startReplicationPair } from '../test/helpers/replication'

const OPS = Number(process.env.CAUSAL_OPS ?? 2000)
const ROUNDS = Number(process.env.CAUSAL_ROUNDS ?? 5)
const silent = { debug () {}, info () {}, warn () {}, error () {} }

function cluster (primary: string, replica: string, causalReads: boolean): Cluster {
  return new Cluster({
    options: resolveClusterOptions({ connection: primary, replicas: [replica], causalReads, replicaCheckInterval: 1000, replicaCheckTimeout: 10_000, replicaMaxLag: 60_000 }, {
      connection: (v) => resolveConnection(v),
      poolOptions: () => ({})
    }),
    poolOptions: { poolSize: 1, maxOverflow: 0, logger: silent },
    autoRecycle: false,
    makePool: (creator, o) => new QueuePool(creator, o),
    log: silent
  })
}

async function timeOps (op: (i: number) => Promise<void>): Promise<number> {
  const started = performance.now()
  for (let i = 0; i < OPS; i++) await op(i)
  return (performance.now() - started) * 1000 / OPS
}

const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]

async function main (): Promise<void> {
  const pair = await startReplicationPair()
  try {
    const admin = await mysql.createConnection(pair.primary.url)
    await admin.query('CREATE TABLE test.bench (id INT AUTO_INCREMENT PRIMARY KEY, v INT)')
    await admin.query('INSERT INTO test.bench (v) VALUES (1)')
    await admin.end()
    await pair.caughtUp()
    const off = cluster(pair.primary.url, pair.replica.url, false)
    const on = cluster(pair.primary.url, pair.replica.url, true)
    await Promise.all([off.start(), on.start()])
    // One write through `on`, so its replica sessions have a position to wait for.
    const w = new Session(on.primary)
    await w.query('INSERT INTO test.bench (v) VALUES (2)')
    await w.close()
    await pair.caughtUp()

    const read = (c: Cluster) => async (): Promise<void> => {
      const s = new Session(c.replicaSource())
      await s.query('SELECT v FROM test.bench WHERE id = 1')
      await s.close()
    }
    const write = (c: Cluster) => async (): Promise<void> => {
      const s = new Session(c.primary)
      await s.query('INSERT INTO test.bench (v) VALUES (3)')
      await s.close()
    }
    const results = { readOff: [] as number[], readOn: [] as number[], writeOff: [] as number[], writeOn: [] as number[] }
    await timeOps(read(off)) // warm-up
    await timeOps(read(on))
    for (let r = 0; r < ROUNDS; r++) {
      // Which variant goes first alternates, so neither always runs on a warmer server.
      const order = r % 2 === 0 ? [false, true] : [true, false]
      for (const causal of order) (causal ? results.readOn : results.readOff).push(await timeOps(read(causal ? on : off)))
      for (const causal of order) (causal ? results.writeOn : results.writeOff).push(await timeOps(write(causal ? on : off)))
      await pair.caughtUp(60_000)
    }
    const stats = on.stats().replicas?.[0]
    const fmt = (x: number): string => `${x.toFixed(0)} µs`
    const rOff = median(results.readOff)
    const rOn = median(results.readOn)
    const wOff = median(results.writeOff)
    const wOn = median(results.writeOn)
    console.log(`| Operation (median of ${ROUNDS} rounds × ${OPS}) | causalReads off | causalReads on | on / off |`)
    console.log('|---|---:|---:|---:|')
    console.log(`| replica read (session, 1 SELECT, close) | ${fmt(rOff)} | ${fmt(rOn)} | ${(rOn / rOff).toFixed(2)} (+${fmt(rOn - rOff)}) |`)
    console.log(`| primary write (session, 1 INSERT, close) | ${fmt(wOff)} | ${fmt(wOn)} | ${(wOn / wOff).toFixed(2)} |`)
    console.log(`\ncausal waits ${stats?.causalWaits ?? 0}, timeouts ${stats?.causalTimeouts ?? 0}, replica reads served by the primary ${on.replicaSet.primaryReads + off.replicaSet.primaryReads}`)
    await Promise.all([off.close(), on.close()])
    await Promise.all([off.primary.close(), on.primary.close()])
  } finally {
    await pair.remove()
  }
}

main().then(() => process.exit(0), (err: unknown) => {
  console.error(err)
  process.exit(1)
})
