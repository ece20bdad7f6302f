/**
 * Runs a set of HTTP variants in interleaved rounds: each round loads every variant in turn, the
 * start rotating from round to round so that drift and ordering effects cancel, and every load
 * run gets a fresh server process (started, warmed up for `cfg.warmup` s, measured, stopped).
 * A process keeps the machine code its JIT happened to produce and where its heap happened to
 * land: on this shared machine one process per variant for all rounds gave steady per-round
 * ratios of 0.8× between two servers running the same code. Fresh processes turn that luck into
 * round-to-round noise, which the medians then absorb.
 */
import type { BenchConfig } from '../config'
import { fmtInt, fmtNum, fmtRatio, median, medianRatio } from '../stats'
import type { AppSpec } from './apps'
import { load, type LoadResult } from './load'
import { readProbe, startProbe, startServer, stopServer } from './servers'

export interface Variant {
  label: string
  spec: AppSpec
  method: 'GET' | 'POST'
  connections: number
}

/** One load run, with the server's CPU time per request served (µs) over the same run. */
export interface RoundResult extends LoadResult {
  cpuPerRequest: number
}

export interface VariantResult {
  variant: Variant
  rounds: RoundResult[]
}

/** One load run of `v` on a fresh server process: started, warmed up, measured, stopped. */
export async function measureFresh (v: Variant, cfg: BenchConfig): Promise<RoundResult> {
  const server = await startServer(v.spec)
  try {
    if (cfg.warmup > 0) await load({ url: server.url, method: v.method, connections: v.connections, duration: cfg.warmup })
    startProbe(server, false)
    const loaded = await load({ url: server.url, method: v.method, connections: v.connections, duration: cfg.duration })
    const probe = await readProbe(server)
    return { ...loaded, cpuPerRequest: probe.cpuMicros / probe.statements }
  } finally {
    await stopServer(server)
  }
}

export async function runScenario (name: string, variants: Variant[], cfg: BenchConfig, progress: (msg: string) => void): Promise<VariantResult[]> {
  const results: VariantResult[] = variants.map((variant) => ({ variant, rounds: [] }))
  for (let r = 0; r < cfg.rounds; r++) {
    for (let k = 0; k < variants.length; k++) {
      const i = (k + r) % variants.length
      const v = variants[i]
      const res = await measureFresh(v, cfg)
      results[i].rounds.push(res)
      progress(`${name}: round ${r + 1}/${cfg.rounds} ${v.label}: ${fmtInt(res.reqPerSec)} req/s, p99 ${fmtNum(res.p99)} ms, ${fmtNum(res.cpuPerRequest, 1)} µs CPU/request${res.errors > 0 ? `, ${res.errors} errors` : ''}`)
    }
  }
  return results
}

export const reqPerSec = (r: VariantResult): number[] => r.rounds.map((x) => x.reqPerSec)
export const p99s = (r: VariantResult): number[] => r.rounds.map((x) => x.p99)
export const errorsOf = (r: VariantResult): number => r.rounds.reduce((sum, x) => sum + x.errors, 0)
export const cpuPerRequest = (r: VariantResult): number[] => r.rounds.map((x) => x.cpuPerRequest)

/**
 * Requests per CPU-second of the server relative to the baseline's (> 1: less CPU per request),
 * median of per-round ratios: the same direction as the req/s ratio, and far less noisy on a
 * machine whose other tenants take the CPU away in bursts.
 */
export function cpuEfficiency (r: VariantResult, baseline: VariantResult): number {
  return medianRatio(cpuPerRequest(baseline), cpuPerRequest(r))
}

/** The standard columns for one variant: median req/s, p99 and server CPU per request, ratios vs a baseline, errors. */
export function standardRow (r: VariantResult, baseline: VariantResult): string[] {
  return [
    r.variant.label,
    fmtInt(median(reqPerSec(r))),
    fmtNum(median(p99s(r))),
    fmtNum(median(cpuPerRequest(r)), 1),
    fmtRatio(medianRatio(reqPerSec(r), reqPerSec(baseline))),
    fmtRatio(medianRatio(p99s(r), p99s(baseline))),
    fmtRatio(cpuEfficiency(r, baseline)),
    String(errorsOf(r))
  ]
}

export const STANDARD_HEADERS = ['variant', 'req/s (median)', 'p99 ms (median)', 'server CPU µs/request (median)', 'req/s vs baseline', 'p99 vs baseline', 'requests per CPU-second vs baseline', 'errors']
