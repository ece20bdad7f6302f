/**
 * Two servers compared in paired rounds: in each round both run in fresh processes
 * (scenario.measureFresh), back to back, in alternating order, so a drift within the round
 * cancels and a process that happened to get slower machine code weighs on one round only.
 * Used where one ratio is the whole question (the request context's price, section 8; the
 * defaults against @fastify/mysql, section 9) and a few per cent must be told from the drift.
 */
import type { BenchConfig } from '../config'
import { fmtInt, fmtNum } from '../stats'
import type { AppSpec } from './apps'
import { summarisePair, type PairResult, type Reading } from './pair-summary'
import { measureFresh } from './scenario'

/** At least 1 s of warm-up: an effect of a few per cent needs the JIT settled. */
async function measure (spec: AppSpec, cfg: BenchConfig): Promise<Reading> {
  return await measureFresh({ label: spec.kind, spec, method: 'GET', connections: cfg.connections }, { ...cfg, warmup: Math.max(1, cfg.warmup) })
}

export async function comparePair (name: string, a: AppSpec, b: AppSpec, rounds: number, cfg: BenchConfig, progress: (msg: string) => void): Promise<PairResult> {
  const ra: Reading[] = []
  const rb: Reading[] = []
  for (let r = 0; r < rounds; r++) {
    for (const first of r % 2 === 0 ? [true, false] : [false, true]) {
      const reading = await measure(first ? a : b, cfg)
      ;(first ? ra : rb).push(reading)
      progress(`${name} round ${r + 1}/${rounds} ${first ? 'a' : 'b'}: ${fmtInt(reading.reqPerSec)} req/s, ${fmtNum(reading.cpuPerRequest, 1)} µs CPU/request`)
    }
  }
  return summarisePair(ra, rb)
}
