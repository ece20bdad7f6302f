/**
 * Section 9: issue #11's bar for the plain route, the plugin at ≥ 1.00× of @fastify/mysql's shared
 * pool, asked on its own with the statistical power the 12-variant rotation of section 2 lacks: only
 * the pairs in question, in paired rounds (pairs.ts), with the logger off on both sides and with
 * `logger: true` on both sides, for the defaults and for `requestContext: false` (on Node 20 and 22
 * the request context costs what AsyncLocalStorage costs there; section 8 prices it). Two more lines
 * compare like with like: the defaults against @fastify/mysql whose handlers run in the same kind of
 * request context (a bare AsyncLocalStorage.run, what @fastify/request-context or a hand-made
 * context costs), which is what an app that wants the session from any module pays on either side.
 */
import type { BenchConfig } from '../config'
import { fmtRatio, medianInterval } from '../stats'
import type { AppSpec } from './apps'
import { PEER_POOL_SIZE, peerSpec } from './peers'
import { fmtInterval, pairTable, PLAIN_ROUTE_GOAL, verdict, VERDICT_CONFIDENCE, type PairResult } from './pair-summary'
import { comparePair } from './pairs'

interface Pair { title: string, ours: AppSpec, peer: AppSpec }

/**
 * The like-for-like lines' peer: @fastify/mysql with its handlers in a request context too (a bare
 * AsyncLocalStorage.run: the least any request context costs it; @fastify/request-context adds hooks).
 */
const WITH_CONTEXT = '@fastify/mysql in a request context (its handler in `AsyncLocalStorage.run`)'

/** Which order statistics bound the interval for this many rounds, in words. */
function intervalRanks (rounds: number): string {
  // On the ranks 1..n themselves the interval's bounds are the ranks it takes.
  const { low: k, coverage } = medianInterval(Array.from({ length: rounds }, (_, i) => i + 1), VERDICT_CONFIDENCE)
  const bounds = k === 1 ? 'the smallest to the largest ratio' : `the ${ordinal(k)} smallest to the ${ordinal(k)} largest ratio`
  return `with ${rounds} rounds ${bounds}, ${(coverage * 100).toFixed(1)} %${coverage < VERDICT_CONFIDENCE ? ': too few rounds for a verdict' : ''}`
}

function ordinal (n: number): string {
  const suffix = n % 100 >= 11 && n % 100 <= 13 ? 'th' : ['th', 'st', 'nd', 'rd'][n % 10] ?? 'th'
  return `${n}${suffix}`
}

interface PairOutcome { title: string, result: PairResult }

export async function runHeadline (cfg: BenchConfig, progress: (msg: string) => void): Promise<string> {
  const spec = (kind: AppSpec['kind'], extra: Partial<AppSpec> = {}): AppSpec => peerSpec(cfg, kind, extra)
  const pairs: Pair[] = [
    { title: 'logger off, the defaults', ours: spec('ours'), peer: spec('fastify-mysql') },
    { title: '`logger: true` on both sides, the defaults', ours: spec('ours', { logging: true }), peer: spec('fastify-mysql', { logging: true }) },
    { title: 'logger off, `requestContext: false`', ours: spec('ours', { requestContext: false }), peer: spec('fastify-mysql') },
    { title: '`logger: true` on both sides, `requestContext: false`', ours: spec('ours', { logging: true, requestContext: false }), peer: spec('fastify-mysql', { logging: true }) },
    { title: `logger off, the defaults, against ${WITH_CONTEXT}`, ours: spec('ours'), peer: spec('fastify-mysql', { bareContext: true }) },
    { title: `\`logger: true\` on both sides, the defaults, against ${WITH_CONTEXT}`, ours: spec('ours', { logging: true }), peer: spec('fastify-mysql', { logging: true, bareContext: true }) }
  ]
  const results: PairOutcome[] = []
  for (const p of pairs) results.push({ title: p.title, result: await comparePair(`headline: ${p.title}`, p.ours, p.peer, cfg.headlineRounds, cfg, progress) })
  const line = ({ title, result: r }: PairOutcome): string =>
    `| ${title} | ${fmtRatio(r.reqRatio)} | ${fmtInterval(r.reqInterval, PLAIN_ROUTE_GOAL)} | ${fmtRatio(r.reqRatioOfMedians)} | ${fmtRatio(r.cpuRatio)} | ${r.aheadRounds} of ${r.a.length} | **${verdict(r.reqInterval, PLAIN_ROUTE_GOAL)}** |`
  return [
    `### GET /items/:id through \`request.db\` against @fastify/mysql's \`fastify.mysql.query\`, pool size ${PEER_POOL_SIZE}, ${cfg.connections} connections — Node ${process.version}`,
    '',
    `${cfg.headlineRounds} paired rounds per line: in each round both servers run in fresh processes (${Math.max(1, cfg.warmup)} s warm-up, ${cfg.duration} s measured), back to back, in alternating order. Ratios: ours ÷ @fastify/mysql with the same logger setting.`,
    `Issue #11's bar: ≥ ${PLAIN_ROUTE_GOAL.toFixed(2)}× in req/s (median of the per-round ratios), logger off and with logging on both sides.`,
    `The interval is the distribution-free ${VERDICT_CONFIDENCE * 100} % confidence interval of that median (order statistics of the per-round ratios: ${intervalRanks(cfg.headlineRounds)}):`,
    `the bar is **met** when the whole interval is ≥ ${PLAIN_ROUTE_GOAL.toFixed(2)}×, **not met** when it is all below, and **within the noise** when it straddles the bar.`,
    'The last two lines compare like with like: our defaults include the request context behind `app.db.current()`, so in those two lines @fastify/mysql\'s handler runs in a bare `AsyncLocalStorage.run` as well, the least that any request context (@fastify/request-context, a hand-made one) costs it.',
    '',
    `| ours against @fastify/mysql | req/s, median of per-round ratios | its ${VERDICT_CONFIDENCE * 100} % interval (coverage) | req/s, ratio of the medians | requests per CPU-second | rounds ours ahead | ≥ ${PLAIN_ROUTE_GOAL.toFixed(2)}× |`,
    '| --- | ---: | ---: | ---: | ---: | ---: | --- |',
    ...results.map(line),
    '',
    ...results.flatMap(({ title, result }) => [`**${title}** (ours, @fastify/mysql):`, '', pairTable(result, ['ours', 'peer']), ''])
  ].join('\n')
}
