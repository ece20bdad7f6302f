/**
 * Section 2: the same route on every stack, pool size 10 everywhere; baseline = @fastify/mysql's
 * shared pool (`fastify.mysql.query`), the most common way Fastify apps talk to MySQL.
 * Logging is compared with logging: the `logger: true` rows (info level, pino → /dev/null through
 * sonic-boom, the same on both sides) have @fastify/mysql with the same logger as their baseline.
 * All variants run in one interleaved scenario, so the two groups share the machine's drift.
 */
import type { BenchConfig } from '../config'
import { fmtInt, fmtNum, fmtRatio, median, medianRatio, table } from '../stats'
import type { AppKind, AppSpec } from './apps'
import { cpuEfficiency, cpuPerRequest, reqPerSec, runScenario, STANDARD_HEADERS, standardRow, type Variant, type VariantResult } from './scenario'

export const PEER_POOL_SIZE = 10

export interface PeerRow {
  label: string
  /** Median of per-round ratios of req/s against the baseline of the same logging mode. */
  ratio: number
  /** Requests per CPU-second of the server against the same baseline (> 1: less CPU per request). */
  cpuRatio: number
  ours: boolean
}

export interface PeerResults {
  markdown: string
  loggerOff: PeerRow[]
  loggerOn: PeerRow[]
  /** Our route through `app.db.current()` vs through `request.db`. */
  currentVsRequestDb: number
  /** Our `request.db` route with the async request context (the default) vs `requestContext: false`. */
  contextVsNone: number
}

interface PeerVariant extends Variant {
  logging: boolean
  ours: boolean
  role?: 'request.db' | 'current' | 'no-context'
}

/** A server of the plain-route comparisons: this kind, the bench's database, the peers' pool size. */
export function peerSpec (cfg: BenchConfig, kind: AppKind, extra: Partial<AppSpec> = {}): AppSpec {
  return { kind, dbUrl: cfg.dbUrl, poolSize: PEER_POOL_SIZE, ...extra }
}

export async function runPeers (cfg: BenchConfig, progress: (msg: string) => void): Promise<PeerResults> {
  const spec = (kind: AppKind, extra: Partial<AppSpec> = {}): AppSpec => peerSpec(cfg, kind, extra)
  const v = (label: string, s: AppSpec, ours = false, role?: PeerVariant['role']): PeerVariant => ({
    label, spec: s, method: 'GET', connections: cfg.connections, logging: s.logging === true, ours, ...(role === undefined ? {} : { role })
  })
  const variants: PeerVariant[] = [
    v('@fastify/mysql shared pool (baseline)', spec('fastify-mysql')),
    v('no-db (same route, no query)', spec('no-db')),
    v('mysql2/promise pool.query', spec('mysql2-pool')),
    v('@fastify/mysql + request-scoped getConnection/release', spec('fastify-mysql-scoped')),
    v('knex (knex.raw)', spec('knex')),
    v('fastify-db-session, `request.db`', spec('ours'), true, 'request.db'),
    v('fastify-db-session, `app.db.current()`', spec('ours', { viaCurrent: true }), true, 'current'),
    v('fastify-db-session, `request.db`, `requestContext: false`', spec('ours', { requestContext: false }), true, 'no-context'),
    v('@fastify/mysql shared pool, logger: true (baseline)', spec('fastify-mysql', { logging: true })),
    v('fastify-db-session, `request.db`, logger: true', spec('ours', { logging: true }), true),
    // Where the cost of logging goes: the context (more async resources to tag: sonic-boom's
    // writes) and the fields added to the "request completed" line.
    v('fastify-db-session, `request.db`, logger: true, `requestContext: false`', spec('ours', { logging: true, requestContext: false }), true),
    v('fastify-db-session, `request.db`, logger: true, `logPoolStats: false`', spec('ours', { logging: true, logPoolStats: false }), true)
  ]
  const results = await runScenario('peers', variants, { ...cfg, rounds: cfg.peerRounds }, progress)
  const off = results.filter((r) => !(r.variant as PeerVariant).logging)
  const on = results.filter((r) => (r.variant as PeerVariant).logging)
  const rows = (group: VariantResult[]): PeerRow[] => group.map((r) => ({
    label: r.variant.label.replace(/, logger: true/, '').replace(' (baseline)', ''),
    ratio: medianRatio(reqPerSec(r), reqPerSec(group[0])),
    cpuRatio: cpuEfficiency(r, group[0]),
    ours: (r.variant as PeerVariant).ours
  }))
  const byRole = (role: PeerVariant['role']): VariantResult | undefined => results.find((r) => (r.variant as PeerVariant).role === role)
  const ratioOf = (a: PeerVariant['role'], b: PeerVariant['role']): { ratio: number, detail: string } => {
    const x = byRole(a)
    const y = byRole(b)
    if (x === undefined || y === undefined) return { ratio: NaN, detail: '' }
    const perRound = reqPerSec(x).map((q, i) => fmtRatio(q / reqPerSec(y)[i])).join(', ')
    const cpu = `${fmtNum(median(cpuPerRequest(x)), 1)} vs ${fmtNum(median(cpuPerRequest(y)), 1)} µs CPU per request: ${fmtRatio(cpuEfficiency(x, y))} requests per CPU-second`
    return { ratio: medianRatio(reqPerSec(x), reqPerSec(y)), detail: ` req/s (per round: ${perRound}; medians ${fmtInt(median(reqPerSec(x)))} vs ${fmtInt(median(reqPerSec(y)))}); ${cpu}` }
  }
  const current = ratioOf('current', 'request.db')
  const context = ratioOf('request.db', 'no-context')
  const markdown = [
    `### GET /items/:id — random primary-key SELECT, pool size ${PEER_POOL_SIZE}, ${cfg.connections} connections`,
    '',
    `Median of ${cfg.peerRounds} interleaved round(s) of ${cfg.duration} s, all ${variants.length} variants in one rotation, each load run on a fresh server process (${cfg.warmup} s warm-up). Ratios are medians of per-round ratios vs the baseline of the same table.`,
    'Server CPU: user + system time of the server process over the run (process.cpuUsage) per request it served; "requests per CPU-second vs baseline" > 1 means less CPU per request.',
    'On a shared machine the CPU ratio is the steadier one: throughput also measures how much CPU the other tenants left.',
    '',
    '**Logger off** (`logger: false` everywhere):',
    '',
    table(STANDARD_HEADERS, off.map((r) => standardRow(r, off[0]))),
    '',
    '**Logging on both sides** (`logger: true`, info level: Fastify\'s two lines per request, pino → /dev/null through sonic-boom):',
    '',
    table(STANDARD_HEADERS, on.map((r) => standardRow(r, on[0]))),
    '',
    'The async request context (issue #13, logger off):',
    '',
    `- \`request.db\` with the context (the default) vs \`requestContext: false\`: **${fmtRatio(context.ratio)}**${context.detail}.`,
    `- The route through \`app.db.current()\` vs through \`request.db\` (both with the context): **${fmtRatio(current.ratio)}**${current.detail}.`
  ].join('\n')
  return { markdown, loggerOff: rows(off), loggerOn: rows(on), currentVsRequestDb: current.ratio, contextVsNone: context.ratio }
}
