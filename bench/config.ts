/**
 * Benchmark settings, from the environment. The defaults are the full run (`npm run bench`,
 * about 25 minutes); BENCH_QUICK=1 is a smoke run (1 round, 2 s per load run).
 *
 *   BENCH_QUICK=1           short everything
 *   BENCH_DURATION=5        seconds per autocannon run
 *   BENCH_ROUNDS=3          interleaved rounds per HTTP variant (costs, sizing)
 *   BENCH_PEER_ROUNDS=5     interleaved rounds of the HTTP comparison with the peers
 *   BENCH_WARMUP=1          seconds of unmeasured load per server before its first round
 *   BENCH_CONNECTIONS=32    autocannon connections (peer comparison, pre-ping/reset)
 *   BENCH_SIZING_CONNECTIONS=64  autocannon connections for the pool sizing curve
 *   BENCH_MICRO_ROUNDS=7    interleaved rounds of the pool micro-benchmark
 *   BENCH_MICRO_PAIRS=50000 acquire+release pairs per pool per round
 *   BENCH_OVERLOAD_DURATION=8    whole seconds of open-loop arrivals per overload run, ≥ 2
 *   BENCH_OVERLOAD_ROUNDS=3      rounds of the overload runs (~2 min a round; the rows show the median)
 *   BENCH_OVERLOAD_TIMEOUT=1000  ms after which an overload client gives up on a request
 *   BENCH_OVERLOAD_POOL_TIMEOUT=500  ms a checkout may wait (ours: poolTimeout; knex: acquireTimeoutMillis)
 *   BENCH_PROFILE_DURATION=6     seconds of load on the CPU-profiled server
 *   BENCH_CONTEXT_ROUNDS=10      rounds of the request-context comparison (fresh processes each round)
 *   BENCH_HEADLINE_ROUNDS=10     paired rounds per line of the plain route against @fastify/mysql (section 9)
 *   BENCH_ONLY=micro,peers,costs,sizing,overload,profile,stream,context,headline  run only these sections (the other
 *                           sections of RESULTS.md and their charts are kept as they were)
 *   BENCH_DB_URL=…          else MYSQL_URL, else mysql://root@127.0.0.1:3306/test
 *   BENCH_OUT=bench/RESULTS.md  where the markdown goes ('-' = don't write)
 *   BENCH_CHARTS=docs/charts    where the SVG charts go ('-' = don't draw)
 */
import path from 'node:path'

export const SECTIONS = ['micro', 'peers', 'costs', 'sizing', 'overload', 'profile', 'stream', 'context', 'headline'] as const
export type Section = typeof SECTIONS[number]

export interface BenchConfig {
  quick: boolean
  /** Seconds per autocannon run. */
  duration: number
  rounds: number
  peerRounds: number
  /** Seconds of warm-up load per server. */
  warmup: number
  connections: number
  sizingConnections: number
  microRounds: number
  microPairs: number
  /** Seconds of open-loop arrivals per overload run. */
  overloadDuration: number
  /** Rounds of the overload runs (every variant at every rate once per round). */
  overloadRounds: number
  /** Milliseconds after which an overload client gives up (autocannon `timeout`). */
  overloadTimeout: number
  /** Milliseconds a checkout may wait in the overload runs, where the pool has such a bound. */
  overloadPoolTimeout: number
  /** Seconds of load on the CPU-profiled server. */
  profileDuration: number
  /** Rounds of the request-context comparison. */
  contextRounds: number
  headlineRounds: number
  sections: Set<Section>
  dbUrl: string
  out: string | null
  chartsDir: string | null
}

function num (name: string, fallback: number, min: number): number {
  const raw = process.env[name]
  if (raw === undefined || raw === '') return fallback
  const value = Number(raw)
  if (!Number.isFinite(value) || value < min) throw new Error(`${name} must be a number >= ${min}, got ${raw}`)
  return value
}

function sections (): Set<Section> {
  const raw = process.env.BENCH_ONLY
  if (raw === undefined || raw.trim() === '') return new Set(SECTIONS)
  const wanted = raw.split(',').map((s) => s.trim()).filter((s) => s !== '')
  for (const s of wanted) {
    if (!(SECTIONS as readonly string[]).includes(s)) throw new Error(`BENCH_ONLY: unknown section ${s}; sections: ${SECTIONS.join(', ')}`)
  }
  return new Set(wanted as Section[])
}

export function loadConfig (): BenchConfig {
  const quick = process.env.BENCH_QUICK === '1' || process.env.BENCH_QUICK === 'true'
  const root = path.resolve(__dirname, '..', '..')
  const out = process.env.BENCH_OUT ?? path.join(root, 'bench', 'RESULTS.md')
  const charts = process.env.BENCH_CHARTS ?? path.join(root, 'docs', 'charts')
  return {
    quick,
    duration: num('BENCH_DURATION', quick ? 2 : 5, 1),
    rounds: Math.round(num('BENCH_ROUNDS', quick ? 1 : 3, 1)),
    peerRounds: Math.round(num('BENCH_PEER_ROUNDS', quick ? 1 : 5, 1)),
    warmup: num('BENCH_WARMUP', quick ? 0.5 : 1, 0),
    connections: Math.round(num('BENCH_CONNECTIONS', 32, 1)),
    sizingConnections: Math.round(num('BENCH_SIZING_CONNECTIONS', 64, 1)),
    microRounds: Math.round(num('BENCH_MICRO_ROUNDS', quick ? 3 : 6, 1)),
    microPairs: Math.round(num('BENCH_MICRO_PAIRS', quick ? 20_000 : 50_000, 100)),
    overloadDuration: Math.round(num('BENCH_OVERLOAD_DURATION', quick ? 3 : 8, 2)),
    overloadRounds: Math.round(num('BENCH_OVERLOAD_ROUNDS', quick ? 1 : 3, 1)),
    overloadTimeout: Math.round(num('BENCH_OVERLOAD_TIMEOUT', 1000, 100)),
    overloadPoolTimeout: Math.round(num('BENCH_OVERLOAD_POOL_TIMEOUT', 500, 1)),
    profileDuration: num('BENCH_PROFILE_DURATION', quick ? 2 : 6, 1),
    contextRounds: Math.round(num('BENCH_CONTEXT_ROUNDS', quick ? 2 : 10, 1)),
    headlineRounds: Math.round(num('BENCH_HEADLINE_ROUNDS', quick ? 2 : 10, 1)),
    sections: sections(),
    dbUrl: process.env.BENCH_DB_URL ?? process.env.MYSQL_URL ?? 'mysql://root@127.0.0.1:3306/test',
    out: out === '-' ? null : out,
    chartsDir: charts === '-' ? null : path.resolve(charts)
  }
}

/** The environment knobs that were set, for the report's command line. */
export function benchEnv (): string {
  // NODE_OPTIONS too: a runtime flag (e.g. --experimental-async-context-frame) changes what is measured.
  return Object.keys(process.env).filter((k) => k.startsWith('BENCH_') || k === 'NODE_OPTIONS').sort().map((k) => `${k}=${process.env[k] ?? ''}`).join(' ')
}
