/** Section 4: the pool sizing curve — ours at poolSize 1…32 (maxOverflow 0) under 64 clients. */
import type { BenchConfig } from '../config'
import { fmtInt, fmtNum, fmtRatio, median, medianRatio, table } from '../stats'
import { errorsOf, p99s, reqPerSec, runScenario, type Variant } from './scenario'

export const SIZES = [1, 2, 4, 8, 16, 32]

export interface SizingPoint {
  poolSize: number
  reqPerSec: number
  p50: number
  p99: number
}

export interface SizingResults {
  markdown: string
  points: SizingPoint[]
  connections: number
}

export async function runSizing (cfg: BenchConfig, progress: (msg: string) => void): Promise<SizingResults> {
  const variants: Variant[] = SIZES.map((poolSize) => ({
    label: `poolSize ${poolSize}`,
    spec: { kind: 'ours', dbUrl: cfg.dbUrl, poolSize },
    method: 'GET',
    connections: cfg.sizingConnections
  }))
  const results = await runScenario('sizing', variants, cfg, progress)
  const best = results.reduce((a, b) => (median(reqPerSec(b)) > median(reqPerSec(a)) ? b : a))
  const rows = results.map((r) => [
    r.variant.label,
    fmtInt(median(reqPerSec(r))),
    fmtNum(median(p99s(r))),
    fmtNum(median(r.rounds.map((x) => x.p50))),
    fmtRatio(medianRatio(reqPerSec(r), reqPerSec(best))),
    String(errorsOf(r))
  ])
  const points = results.map((r, i) => ({
    poolSize: SIZES[i],
    reqPerSec: median(reqPerSec(r)),
    p50: median(r.rounds.map((x) => x.p50)),
    p99: median(p99s(r))
  }))
  const markdown = [
    `### Pool sizing — ours, GET /items/:id, maxOverflow 0, ${cfg.sizingConnections} connections`,
    '',
    `Median of ${cfg.rounds} interleaved round(s) of ${cfg.duration} s; ratio vs the best size (${best.variant.label}). ${cfg.sizingConnections} clients share 2 cores with MariaDB and the load generator.`,
    '',
    table(['pool', 'req/s (median)', 'p99 ms (median)', 'p50 ms (median)', 'req/s vs best', 'errors'], rows)
  ].join('\n')
  return { markdown, points, connections: cfg.sizingConnections }
}
