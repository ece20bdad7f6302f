/**
 * The soak: `npm run soak` (SOAK_REQUESTS=100000 by default, SOAK_CONCURRENCY=32) runs the chaos
 * mix of test/reliability/chaos.test.ts over real sockets against the real database, prints a
 * markdown table of figures, and exits 1 unless it ends with zero leaks.
 * Only imports lib/ and test/helpers/ (compiled by tsconfig.build.json).
 */
import { performance } from 'node:perf_hooks'
import type mysql from 'mysql2/promise'
import { adminConnection, databaseUrl } from '../helpers/db'
import {
  buildChaosApp, chaosSpec, createDbUser, dropDbUser, keepAliveAgent, openSockets, recordResult, runLoad,
  userThreads, userTransactions, waitFor
} from '../helpers/http-load'

const REQUESTS = Number(process.env.SOAK_REQUESTS ?? 100_000)
const CONCURRENCY = Number(process.env.SOAK_CONCURRENCY ?? 32)
const USER = 'fdbs_rel_soak'
const TABLE = 'rel_soak'
const POOL_SIZE = 8
const MAX_OVERFLOW = 8

async function rows (a: mysql.Connection, kind: string): Promise<number> {
  const [r] = await a.query<mysql.RowDataPacket[]>(`SELECT COUNT(*) AS n FROM ${TABLE} WHERE kind = ?`, [kind])
  return Number(r[0].n)
}

async function main (): Promise<number> {
  const a = await adminConnection()
  a.on('error', () => {})
  const url = await createDbUser(a, await databaseUrl(), USER, 'Soak-pw-5d2a8')
  const socketsBefore = openSockets()
  const { app, url: base } = await buildChaosApp(a, TABLE, {
    connection: url, poolSize: POOL_SIZE, maxOverflow: MAX_OVERFLOW, poolTimeout: 10_000, logPoolStats: false
  })
  const pool = app.db.pool
  const agent = keepAliveAgent(CONCURRENCY)
  let serverFull = 0
  let lastReport = performance.now()
  const summary = await runLoad(base, {
    total: REQUESTS,
    concurrency: CONCURRENCY,
    agent,
    make: (i) => chaosSpec(i),
    onResult: (spec, res, i) => {
      if (res.status === 503 && spec.kind !== 'timeout' && res.body.includes('ER_CON_COUNT_ERROR')) serverFull++
      if (performance.now() - lastReport > 10_000) {
        lastReport = performance.now()
        process.stderr.write(`soak: ${i + 1}/${REQUESTS} ${pool.status()}\n`)
      }
    }
  })
  agent.destroy()
  await waitFor(async () => pool.stats().checkedOut === 0 && (await userThreads(a, USER)).length <= POOL_SIZE + MAX_OVERFLOW && await userTransactions(a, USER) === 0, 15_000)
  const stats = pool.stats()
  const threads = (await userThreads(a, USER)).length
  const openTrx = await userTransactions(a, USER)
  const failedRows = await rows(a, 'fail') + await rows(a, 'abort')
  const committed = await rows(a, 'ok')
  const written = summary.byKind.write?.statuses['200'] ?? 0
  await app.close()
  await waitFor(() => openSockets() <= socketsBefore, 5000)
  const extraSockets = Math.max(0, openSockets() - socketsBefore)
  await waitFor(async () => (await userThreads(a, USER)).length === 0, 5000)
  const threadsAfterClose = (await userThreads(a, USER)).length
  await dropDbUser(a, USER)
  await a.query(`DROP TABLE IF EXISTS ${TABLE}`)
  await a.end()

  const leaks = stats.checkedOut + openTrx + failedRows + extraSockets + threadsAfterClose +
    (threads > POOL_SIZE + MAX_OVERFLOW ? threads : 0) + Math.abs(committed - written)
  const unexpected = summary.failures - serverFull
  const lines = [
    '| figure | value |',
    '|---|---|',
    `| requests run | ${summary.requests} |`,
    `| concurrency | ${CONCURRENCY} |`,
    `| duration | ${(summary.durationMs / 1000).toFixed(1)} s (${summary.rps} req/s) |`,
    `| latency p50 / p99 / max | ${summary.p50} / ${summary.p99} / ${summary.maxMs} ms |`,
    `| unexpected answers | ${unexpected} |`,
    `| 503 because the server was full (ER_CON_COUNT_ERROR) | ${serverFull} |`,
    ...Object.entries(summary.byKind).map(([k, v]) => `| \`${k}\` answers | ${Object.entries(v.statuses).map(([s, n]) => `${s}×${n}`).join(', ')} |`),
    `| pool checked out after | ${stats.checkedOut} |`,
    `| server connections after (limit ${POOL_SIZE + MAX_OVERFLOW}) | ${threads} |`,
    `| open transactions after | ${openTrx} |`,
    `| rows from failed/aborted transactions | ${failedRows} |`,
    `| committed rows vs 200s of the write route | ${committed} / ${written} |`,
    `| extra sockets after close | ${extraSockets} |`,
    `| server connections after close | ${threadsAfterClose} |`,
    `| pool counters | connects ${stats.connects}, connectErrors ${stats.connectErrors}, checkouts ${stats.checkouts}, timeouts ${stats.timeouts}, invalidations ${stats.invalidations} |`,
    `| **leaks** | **${leaks}** |`
  ]
  console.log(lines.join('\n'))
  recordResult('soak', {
    requests: summary.requests,
    failures: summary.failures,
    unexpected,
    serverFull503: serverFull,
    leaks,
    durationMs: summary.durationMs,
    rps: summary.rps,
    p50: summary.p50,
    p99: summary.p99,
    pool: stats
  })
  if (leaks !== 0) console.error(`soak: ${leaks} leaks`)
  if (unexpected !== 0) console.error(`soak: ${unexpected} unexpected answers: ${JSON.stringify(summary.samples)}`)
  return leaks === 0 && unexpected === 0 ? 0 : 1
}

// Not when a test runner picks the file up (`npx tap test/reliability` lists every file).
if (process.env.TAP !== '1') {
  main().then((code) => { process.exitCode = code }, (err: unknown) => {
    console.error(err)
    process.exitCode = 1
  })
}
