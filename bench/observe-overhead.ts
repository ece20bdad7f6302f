/**
 * What observability costs (issue 14): the package's import time and the pool's hot path
 * (acquire + release, no query, real connections) with metrics off, with the OpenTelemetry SDK
 * recording, and with Prometheus recording; optionally against a build of another branch.
 *
 *   npm run build && MYSQL_URL=... node --expose-gc dist/bench/observe-overhead.js
 *   # against main, built from a git archive (nothing checked out):
 *   git archive main | tar -x -C /tmp/fdbs-main && ln -s "$PWD/node_modules" /tmp/fdbs-main/node_modules
 *   (cd /tmp/fdbs-main && npx tsc -p tsconfig.build.json)
 *   BASELINE_DIST=/tmp/fdbs-main/dist/lib MYSQL_URL=... node --expose-gc dist/bench/observe-overhead.js
 *
 * Conditions run in interleaved, rotated rounds; medians and per-round ratios are reported. A
 * condition with metrics on subscribes only for its own round, since channel subscribers are
 * process-wide.
 */
import { execFileSync } from 'node:child_process'
import path from 'node:path'
import mysql from 'mysql2/promise'
import { MeterProvider, MetricReader } from '@opentelemetry/sdk-metrics'
import { Registry } from 'prom-client'
import { fmtNum, fmtRatio, median, medianRatio, table } from './stats'

type PoolModule = typeof import('../lib')
interface Condition { name: string, pool: InstanceType<PoolModule['QueuePool']>, start: () => () => void }

class ManualReader extends MetricReader {
  protected async onForceFlush (): Promise<void> {}
  protected async onShutdown (): Promise<void> {}
}

const ROUNDS = Number(process.env.ROUNDS ?? 7)
const PAIRS = Number(process.env.PAIRS ?? 50_000)
const IMPORTS = Number(process.env.IMPORTS ?? 15)

function importNs (entry: string): { ns: number, optionalLoaded: boolean } {
  const code = `const t = process.hrtime.bigint(); require(${JSON.stringify(entry)}); const ns = Number(process.hrtime.bigint() - t);` +
    'const loaded = Object.keys(require.cache).some((k) => k.includes("@opentelemetry") || k.includes("prom-client"));' +
    'process.stdout.write(JSON.stringify({ ns, optionalLoaded: loaded }))'
  return JSON.parse(execFileSync(process.execPath, ['-e', code], { encoding: 'utf8' })) as { ns: number, optionalLoaded: boolean }
}

async function cycle (pool: Condition['pool'], pairs: number): Promise<number> {
  const t0 = process.hrtime.bigint()
  for (let i = 0; i < pairs; i++) {
    const c = await pool.connect()
    await c.close()
  }
  return Number(process.hrtime.bigint() - t0) / pairs
}

async function main (): Promise<void> {
  const url = process.env.MYSQL_URL ?? 'mysql://root@127.0.0.1:3306/test'
  const ours = path.resolve(__dirname, '../lib')
  const baseline = process.env.BASELINE_DIST
  const entries: Array<[string, string]> = [['this branch', ours], ...(baseline === undefined ? [] : [['baseline', path.resolve(baseline)] as [string, string]])]

  const importTimes = new Map<string, number[]>(entries.map(([n]) => [n, []]))
  let optionalLoaded = false
  for (let i = 0; i < IMPORTS; i++) {
    for (const [name, entry] of i % 2 === 0 ? entries : [...entries].reverse()) {
      const r = importNs(entry)
      importTimes.get(name)?.push(r.ns / 1e6)
      if (name === 'this branch') optionalLoaded ||= r.optionalLoaded
    }
  }

  const lib = require(ours) as PoolModule
  const creator = (): Promise<mysql.Connection> => mysql.createConnection(url)
  const make = (m: PoolModule): Condition['pool'] => new m.QueuePool(creator, { poolSize: 2, maxOverflow: 0 })
  const conditions: Condition[] = [{ name: 'metrics off', pool: make(lib), start: () => () => {} }]
  if (baseline !== undefined) {
    conditions.unshift({ name: 'baseline (no observability code)', pool: make(require(path.resolve(baseline)) as PoolModule), start: () => () => {} })
  }
  const otelPool = make(lib)
  conditions.push({
    name: 'OpenTelemetry SDK recording',
    pool: otelPool,
    start: () => {
      const meterProvider = new MeterProvider({ readers: [new ManualReader()] })
      return lib.instrumentPool(otelPool, { poolName: 'otel', openTelemetry: { meterProvider } }).close
    }
  })
  const promPool = make(lib)
  conditions.push({
    name: 'Prometheus recording',
    pool: promPool,
    start: () => lib.instrumentPool(promPool, { poolName: 'prom', openTelemetry: false, prometheus: new Registry() }).close
  })
  // METRICS=off measures without ever subscribing (Node swaps a channel's prototype on subscribe).
  if (process.env.METRICS === 'off') conditions.splice(conditions.length - 2, 2)
  for (const c of conditions) await (await c.pool.connect()).close() // open the connection outside the timing

  const ns = new Map<string, number[]>(conditions.map((c) => [c.name, []]))
  for (let r = -1; r < ROUNDS; r++) {
    for (let k = 0; k < conditions.length; k++) {
      const c = conditions[(k + Math.max(r, 0)) % conditions.length]
      // Garbage from the previous condition (the recorders make some) is not charged to this one.
      ;(globalThis as { gc?: () => void }).gc?.()
      const stop = c.start()
      const v = await cycle(c.pool, PAIRS)
      stop()
      if (r >= 0) ns.get(c.name)?.push(v)
    }
  }
  for (const c of conditions) await c.pool.close()

  const ref = ns.get('metrics off') as number[]
  const importRef = importTimes.get('this branch') as number[]
  process.stdout.write([
    '### Import time (`require` of the package entry, fresh process)',
    '',
    table(['build', 'ms (median)', 'vs this branch'], entries.map(([n]) => {
      const v = importTimes.get(n) as number[]
      return [n, fmtNum(median(v), 1), fmtRatio(medianRatio(v, importRef))]
    })),
    '',
    `@opentelemetry/api or prom-client loaded by the import: ${optionalLoaded ? 'YES' : 'no'}`,
    '',
    `### Acquire + release, ${PAIRS} pairs × ${ROUNDS} rounds`,
    '',
    table(['condition', 'ns/pair (median)', 'time vs metrics off'], conditions.map((c) => {
      const v = ns.get(c.name) as number[]
      return [c.name, fmtNum(median(v), 0), fmtRatio(medianRatio(v, ref))]
    })),
    ''
  ].join('\n'))
}

main().catch((err: unknown) => {
  console.error(err)
  process.exitCode = 1
})
