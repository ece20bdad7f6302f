/**
 * Section 8: what the request context (AsyncLocalStorage, behind `app.db.current()`) costs on the
 * plain route. Two servers that differ only in `requestContext`; then, for the floor, the same route
 * on @fastify/mysql with and without a bare `AsyncLocalStorage.run` around its handler (what the
 * runtime charges any request context on a route that talks to the database). As in the peer
 * comparison, every load run gets a fresh process (scenario.measureFresh): a process that happened
 * to get slower machine code weighs on one round, not on the whole result. Both variants of a pair
 * run back to back in each round, so an effect of a few per cent can be told from the drift.
 * Per-round ratios, median over the rounds.
 */
import type { BenchConfig } from '../config'
import { fmtInt, fmtNum, fmtRatio, median, table } from '../stats'
import type { AppSpec } from './apps'
import { measureFresh, type RoundResult } from './scenario'

/** Issue #13's bar: the route with the context at ≥ 0.98× of the same route without. */
const CONTEXT_GOAL = 0.98

type Reading = Pick<RoundResult, 'reqPerSec' | 'cpuPerRequest'>

/** At least 1 s of warm-up: an effect of a few per cent needs the JIT settled. */
async function measure (spec: AppSpec, cfg: BenchConfig): Promise<Reading> {
  return await measureFresh({ label: spec.kind, spec, method: 'GET', connections: cfg.connections }, { ...cfg, warmup: Math.max(1, cfg.warmup) })
}

interface PairResult { on: Reading[], off: Reading[], reqRatio: number, cpuRatio: number }

/** Both variants in fresh processes every round, in alternating order (a drift within the round cancels too). */
async function comparePair (name: string, on: AppSpec, off: AppSpec, cfg: BenchConfig, progress: (msg: string) => void): Promise<PairResult> {
  const withIt: Reading[] = []
  const without: Reading[] = []
  for (let r = 0; r < cfg.contextRounds; r++) {
    for (const first of r % 2 === 0 ? [true, false] : [false, true]) {
      const reading = await measure(first ? on : off, cfg)
      ;(first ? withIt : without).push(reading)
      progress(`context: ${name} round ${r + 1}/${cfg.contextRounds} ${first ? 'with' : 'without'}: ${fmtInt(reading.reqPerSec)} req/s, ${fmtNum(reading.cpuPerRequest, 1)} µs CPU/request`)
    }
  }
  return {
    on: withIt,
    off: without,
    reqRatio: median(withIt.map((x, i) => x.reqPerSec / without[i].reqPerSec)),
    // Requests per CPU-second, with against without: above 1 means the context costs nothing.
    cpuRatio: median(withIt.map((x, i) => without[i].cpuPerRequest / x.cpuPerRequest))
  }
}

function pairTable (p: PairResult): string {
  const { on, off } = p
  const rows = on.map((x, i) => [
    String(i + 1),
    fmtInt(x.reqPerSec),
    fmtInt(off[i].reqPerSec),
    fmtRatio(x.reqPerSec / off[i].reqPerSec),
    fmtNum(x.cpuPerRequest, 1),
    fmtNum(off[i].cpuPerRequest, 1),
    fmtRatio(off[i].cpuPerRequest / x.cpuPerRequest)
  ])
  rows.push(['**median**', fmtInt(median(on.map((x) => x.reqPerSec))), fmtInt(median(off.map((x) => x.reqPerSec))), `**${fmtRatio(p.reqRatio)}**`,
    fmtNum(median(on.map((x) => x.cpuPerRequest)), 1), fmtNum(median(off.map((x) => x.cpuPerRequest)), 1), `**${fmtRatio(p.cpuRatio)}**`])
  return table(['round', 'req/s with', 'req/s without', 'req/s ratio', 'CPU µs/request with', 'CPU µs/request without', 'requests per CPU-second ratio'], rows)
}

export async function runContext (cfg: BenchConfig, progress: (msg: string) => void): Promise<string> {
  const ours = (requestContext: boolean): AppSpec => ({ kind: 'ours', dbUrl: cfg.dbUrl, poolSize: 10, requestContext })
  const peer = (bareContext: boolean): AppSpec => ({ kind: 'fastify-mysql', dbUrl: cfg.dbUrl, poolSize: 10, bareContext })
  const plugin = await comparePair('request.db', ours(true), ours(false), cfg, progress)
  // The floor: the same async context, bare, around the same route on @fastify/mysql's pool.
  const runtime = await comparePair('@fastify/mysql', peer(true), peer(false), cfg, progress)
  const met = (ratio: number): string => (ratio >= CONTEXT_GOAL ? '**met**' : '**not met**')
  const settings = `Pool size 10, ${cfg.connections} connections, ${cfg.contextRounds} rounds; in each round both variants run in fresh server processes` +
    ` (${Math.max(1, cfg.warmup)} s warm-up, ${cfg.duration} s measured), in alternating order. Ratios: with the context ÷ without, per round; requests per CPU-second for the CPU.`
  return [
    `### GET /items/:id through \`request.db\`, \`requestContext\` true (the default) against false — Node ${process.version}`,
    '',
    settings,
    '',
    pairTable(plugin),
    '',
    `- Issue #13's bar, ≥ ${CONTEXT_GOAL.toFixed(2)}× of the route without the context: req/s ${fmtRatio(plugin.reqRatio)} (${met(plugin.reqRatio)}), requests per CPU-second ${fmtRatio(plugin.cpuRatio)} (${met(plugin.cpuRatio)}).`,
    '',
    `### The runtime's own cost: the same route on @fastify/mysql, its handler in a bare \`AsyncLocalStorage.run\` against not — Node ${process.version}`,
    '',
    'What any request context (@fastify/request-context, a hand-made one) costs this route on this runtime, with no plugin of ours: the floor for the rows above. Same rounds and settings.',
    '',
    pairTable(runtime),
    '',
    `- @fastify/mysql with a bare \`AsyncLocalStorage.run\` around the handler: req/s ${fmtRatio(runtime.reqRatio)}, requests per CPU-second ${fmtRatio(runtime.cpuRatio)}; the plugin's context above: ${fmtRatio(plugin.reqRatio)}, ${fmtRatio(plugin.cpuRatio)}.`
  ].join('\n')
}
