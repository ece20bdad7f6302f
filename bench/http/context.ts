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
import { fmtRatio } from '../stats'
import type { AppSpec } from './apps'
import { pairTable } from './pair-summary'
import { comparePair } from './pairs'

/** Issue #13's bar: the route with the context at ≥ 0.98× of the same route without. */
const CONTEXT_GOAL = 0.98

export async function runContext (cfg: BenchConfig, progress: (msg: string) => void): Promise<string> {
  const ours = (requestContext: boolean): AppSpec => ({ kind: 'ours', dbUrl: cfg.dbUrl, poolSize: 10, requestContext })
  const peer = (bareContext: boolean): AppSpec => ({ kind: 'fastify-mysql', dbUrl: cfg.dbUrl, poolSize: 10, bareContext })
  const plugin = await comparePair('context: request.db', ours(true), ours(false), cfg.contextRounds, cfg, progress)
  // The floor: the same async context, bare, around the same route on @fastify/mysql's pool.
  const runtime = await comparePair('context: @fastify/mysql', peer(true), peer(false), cfg.contextRounds, cfg, progress)
  const met = (ratio: number): string => (ratio >= CONTEXT_GOAL ? '**met**' : '**not met**')
  const settings = `Pool size 10, ${cfg.connections} connections, ${cfg.contextRounds} rounds; in each round both variants run in fresh server processes` +
    ` (${Math.max(1, cfg.warmup)} s warm-up, ${cfg.duration} s measured), in alternating order. Ratios: with the context ÷ without, per round; requests per CPU-second for the CPU.`
  return [
    `### GET /items/:id through \`request.db\`, \`requestContext\` true (the default) against false — Node ${process.version}`,
    '',
    settings,
    '',
    pairTable(plugin, ['with', 'without']),
    '',
    `- Issue #13's bar, ≥ ${CONTEXT_GOAL.toFixed(2)}× of the route without the context: req/s ${fmtRatio(plugin.reqRatio)} (${met(plugin.reqRatio)}), requests per CPU-second ${fmtRatio(plugin.cpuRatio)} (${met(plugin.cpuRatio)}).`,
    '',
    `### The runtime's own cost: the same route on @fastify/mysql, its handler in a bare \`AsyncLocalStorage.run\` against not — Node ${process.version}`,
    '',
    'What any request context (@fastify/request-context, a hand-made one) costs this route on this runtime, with no plugin of ours: the floor for the rows above. Same rounds and settings.',
    '',
    pairTable(runtime, ['with', 'without']),
    '',
    `- @fastify/mysql with a bare \`AsyncLocalStorage.run\` around the handler: req/s ${fmtRatio(runtime.reqRatio)}, requests per CPU-second ${fmtRatio(runtime.cpuRatio)}; the plugin's context above: ${fmtRatio(plugin.reqRatio)}, ${fmtRatio(plugin.cpuRatio)}.`
  ].join('\n')
}
