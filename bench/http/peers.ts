/**
 * Section 2: the same route on every stack, pool size 10 everywhere; baseline = @fastify/mysql's
 * shared pool (`fastify.mysql.query`), the most common way Fastify apps talk to MySQL.
 */
import type { BenchConfig } from '../config'
import { table } from '../stats'
import type { AppKind, AppSpec } from './apps'
import { runScenario, STANDARD_HEADERS, standardRow, type Variant } from './scenario'

export const PEER_POOL_SIZE = 10

export async function runPeers (cfg: BenchConfig, progress: (msg: string) => void): Promise<string> {
  const spec = (kind: AppKind, extra: Partial<AppSpec> = {}): AppSpec => ({ kind, dbUrl: cfg.dbUrl, poolSize: PEER_POOL_SIZE, ...extra })
  const v = (label: string, s: AppSpec): Variant => ({ label, spec: s, method: 'GET', connections: cfg.connections })
  const variants = [
    v('@fastify/mysql shared pool (baseline)', spec('fastify-mysql')),
    v('no-db (same route, no query)', spec('no-db')),
    v('mysql2/promise pool.query', spec('mysql2-pool')),
    v('@fastify/mysql + request-scoped getConnection/release', spec('fastify-mysql-scoped')),
    v('knex (knex.raw)', spec('knex')),
    v('fastify-db-session, logger off', spec('ours')),
    v('fastify-db-session, pino info → /dev/null', spec('ours', { logging: true }))
  ]
  const results = await runScenario('peers', variants, cfg, progress)
  const baseline = results[0]
  return [
    `### GET /items/:id — random primary-key SELECT, pool size ${PEER_POOL_SIZE}, ${cfg.connections} connections`,
    '',
    `Median of ${cfg.rounds} interleaved round(s) of ${cfg.duration} s. Ratios are medians of per-round ratios vs the baseline.`,
    'Every variant except the pino one runs with `logger: false`.',
    '',
    table(STANDARD_HEADERS, results.map((r) => standardRow(r, baseline)))
  ].join('\n')
}
