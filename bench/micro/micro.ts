/**
 * Pool micro-benchmark (HikariCP's "connection cycle", over real mysql2 connections):
 * - idle: one caller, acquire+release pairs back to back: ns per pair;
 * - contended: 8 concurrent acquirers looping over a pool of 2 connections: total pairs/s.
 * Pools run in interleaved rounds (A B C… then B C… A, rotating the start) so drift cancels;
 * the median over rounds is reported, and the ratio is the median of the per-round ratios.
 */
import type { BenchConfig } from '../config'
import { fmtInt, fmtNum, fmtRatio, median, medianRatio, table } from '../stats'
import { CountingLogger, makeAdapters, type PoolAdapter } from './adapters'

const POOL_SIZE = 2
const WORKERS = 8

export interface MicroResult {
  idleNs: Map<string, number[]>
  contendedPairsPerSec: Map<string, number[]>
  saturationWarnings: number
  markdown: string
}

async function timeIt (fn: () => Promise<void>): Promise<number> {
  const t0 = process.hrtime.bigint()
  await fn()
  return Number(process.hrtime.bigint() - t0)
}

/** Runs `sample` for every adapter in `rounds` rotated rounds (plus one unrecorded warm-up round). */
async function interleaved (adapters: PoolAdapter[], rounds: number, sample: (a: PoolAdapter) => Promise<number>): Promise<Map<string, number[]>> {
  const out = new Map<string, number[]>(adapters.map((a) => [a.name, []]))
  for (let r = -1; r < rounds; r++) {
    for (let k = 0; k < adapters.length; k++) {
      const a = adapters[(k + Math.max(r, 0)) % adapters.length]
      const value = await sample(a)
      if (r >= 0) out.get(a.name)?.push(value)
    }
  }
  return out
}

export async function runMicro (cfg: BenchConfig, progress: (msg: string) => void): Promise<MicroResult> {
  const logger = new CountingLogger()
  const adapters = await makeAdapters(cfg.dbUrl, POOL_SIZE, logger)
  try {
    const pairs = cfg.microPairs
    progress(`micro: idle acquire+release, ${pairs} pairs × ${cfg.microRounds} rounds × ${adapters.length} pools`)
    const idleNs = await interleaved(adapters, cfg.microRounds, async (a) => (await timeIt(() => a.cycle(pairs))) / pairs)

    const perWorker = Math.ceil(pairs / WORKERS)
    progress(`micro: contended, ${WORKERS} acquirers over ${POOL_SIZE} connections, ${perWorker * WORKERS} pairs per sample`)
    const contendedPairsPerSec = await interleaved(adapters, cfg.microRounds, async (a) => {
      const ns = await timeIt(async () => {
        await Promise.all(Array.from({ length: WORKERS }, () => a.cycle(perWorker)))
      })
      return (perWorker * WORKERS) / (ns / 1e9)
    })

    const oursName = adapters[0].name
    const oursIdle = idleNs.get(oursName) as number[]
    const oursCont = contendedPairsPerSec.get(oursName) as number[]
    const idleRows = adapters.map((a) => {
      const v = idleNs.get(a.name) as number[]
      return [a.name, fmtNum(median(v), 0), fmtNum(Math.min(...v), 0), fmtRatio(medianRatio(v, oursIdle))]
    })
    const contRows = adapters.map((a) => {
      const v = contendedPairsPerSec.get(a.name) as number[]
      return [a.name, fmtInt(median(v)), fmtRatio(medianRatio(v, oursCont))]
    })
    const markdown = [
      `### Idle acquire+release (1 caller, pool of ${POOL_SIZE} real connections, no query)`,
      '',
      `Median of ${cfg.microRounds} interleaved rounds of ${fmtInt(pairs)} pairs. Ratio = their ns / our ns (> 1: we are faster).`,
      '',
      table(['pool', 'ns/pair (median)', 'ns/pair (best)', 'time vs ours'], idleRows),
      '',
      `### Contended acquire+release (${WORKERS} concurrent acquirers, pool of ${POOL_SIZE})`,
      '',
      `Median of ${cfg.microRounds} interleaved rounds of ${fmtInt(perWorker * WORKERS)} pairs. Ratio = their pairs/s ÷ ours (< 1: we are faster).`,
      '',
      table(['pool', 'pairs/s (median)', 'throughput vs ours'], contRows),
      '',
      `Our pool logged ${logger.warnings} saturation warning(s) during the contended runs (counted, not printed).`
    ].join('\n')
    return { idleNs, contendedPairsPerSec, saturationWarnings: logger.warnings, markdown }
  } finally {
    for (const a of adapters) await a.close()
  }
}
