/**
 * The arithmetic of paired rounds (pairs.ts), apart from the servers and the load generator so
 * that it can be tested on its own: per-round ratios, their median and its confidence interval,
 * the ratio of the medians, the rounds won, and the verdict against a goal.
 */
import { fmtInt, fmtNum, fmtRatio, median, medianInterval, table, type MedianInterval } from '../stats'
import type { RoundResult } from './scenario'

export type Reading = Pick<RoundResult, 'reqPerSec' | 'cpuPerRequest'>

export interface PairResult {
  /** The variant under test, per round. */
  a: Reading[]
  /** What it is compared with, per round. */
  b: Reading[]
  /** Median of the per-round req/s ratios a ÷ b. */
  reqRatio: number
  /** The 95 % distribution-free interval for that median (order statistics of the per-round ratios). */
  reqInterval: MedianInterval
  /** Median of the per-round ratios of requests per CPU-second (> 1: a uses less CPU per request). */
  cpuRatio: number
  /** The ratio of the two medians of req/s: the other honest summary of the same rounds. */
  reqRatioOfMedians: number
  /** Rounds in which a served at least as many requests per second as b. */
  aheadRounds: number
}

/** The summary of paired rounds: `a[i]` and `b[i]` were measured in the same round. */
export function summarisePair (a: Reading[], b: Reading[]): PairResult {
  if (a.length !== b.length || a.length === 0) throw new Error(`paired rounds: ${a.length} against ${b.length}`)
  const ratios = a.map((x, i) => x.reqPerSec / b[i].reqPerSec)
  return {
    a,
    b,
    reqRatio: median(ratios),
    reqInterval: medianInterval(ratios),
    cpuRatio: median(a.map((x, i) => b[i].cpuPerRequest / x.cpuPerRequest)),
    reqRatioOfMedians: median(a.map((x) => x.reqPerSec)) / median(b.map((x) => x.reqPerSec)),
    aheadRounds: a.filter((x, i) => x.reqPerSec >= b[i].reqPerSec).length
  }
}

/** One row per round and a median row; `names` label the two variants' columns (e.g. 'with', 'without'). */
export function pairTable (p: PairResult, names: [string, string]): string {
  const [na, nb] = names
  const rows = p.a.map((x, i) => [
    String(i + 1),
    fmtInt(x.reqPerSec),
    fmtInt(p.b[i].reqPerSec),
    fmtRatio(x.reqPerSec / p.b[i].reqPerSec),
    fmtNum(x.cpuPerRequest, 1),
    fmtNum(p.b[i].cpuPerRequest, 1),
    fmtRatio(p.b[i].cpuPerRequest / x.cpuPerRequest)
  ])
  rows.push(['**median**', fmtInt(median(p.a.map((x) => x.reqPerSec))), fmtInt(median(p.b.map((x) => x.reqPerSec))), `**${fmtRatio(p.reqRatio)}**`,
    fmtNum(median(p.a.map((x) => x.cpuPerRequest)), 1), fmtNum(median(p.b.map((x) => x.cpuPerRequest)), 1), `**${fmtRatio(p.cpuRatio)}**`])
  return table(['round', `req/s ${na}`, `req/s ${nb}`, 'req/s ratio', `CPU µs/request ${na}`, `CPU µs/request ${nb}`, 'requests per CPU-second ratio'], rows)
}

export type Verdict = 'met' | 'not met' | 'within the noise' | 'too few rounds'

/** Issue #11's bar for the plain route (section 9): ≥ 1.00× of @fastify/mysql. */
export const PLAIN_ROUTE_GOAL = 1.0

/** The confidence the verdict asks of an interval (medianInterval's default). */
export const VERDICT_CONFIDENCE = 0.95

/**
 * A goal on the median ratio is met only when the whole interval is at or above it, missed when
 * the whole interval is below it; an interval across the goal cannot tell (more rounds might).
 * Fewer than 6 rounds cannot give 95 % at all (their whole range covers less): no verdict.
 */
export function verdict (interval: MedianInterval, goal: number): Verdict {
  if (!(interval.coverage >= VERDICT_CONFIDENCE)) return 'too few rounds'
  if (interval.low >= goal) return 'met'
  if (interval.high < goal) return 'not met'
  return 'within the noise'
}

/**
 * `0.95–1.09× (97.8 %)`: the interval and the coverage it achieves (to one decimal, rounded). With
 * the `goal` its verdict is read against, a bound that two decimals would round onto the goal gets
 * a third (`0.90–0.997×`), so that no printed interval seems to contradict its verdict.
 */
export function fmtInterval (interval: MedianInterval, goal?: number): string {
  const bound = (x: number): string => {
    if (!Number.isFinite(x)) return 'n/a'
    const two = x.toFixed(2)
    return goal !== undefined && x !== goal && two === goal.toFixed(2) ? x.toFixed(3) : two
  }
  return `${bound(interval.low)}–${bound(interval.high)}× (${(interval.coverage * 100).toFixed(1)} %)`
}
