/**
 * Section 3: what pre-ping and the reset on return cost under load. Our pool skips the ROLLBACK
 * after read-only statements, so the reset modes are also measured on a write route
 * (UPDATE … SET n = n + 1), where the reset really runs.
 */
import type { BenchConfig } from '../config'
import type { ResetOnReturn } from '../../lib'
import { table } from '../stats'
import type { AppSpec } from './apps'
import { PEER_POOL_SIZE } from './peers'
import { runScenario, STANDARD_HEADERS, standardRow, type Variant } from './scenario'

export async function runCosts (cfg: BenchConfig, progress: (msg: string) => void): Promise<string> {
  const spec = (extra: Partial<AppSpec>): AppSpec => ({ kind: 'ours', dbUrl: cfg.dbUrl, poolSize: PEER_POOL_SIZE, ...extra })
  const read = (label: string, extra: Partial<AppSpec>): Variant => ({ label, spec: spec(extra), method: 'GET', connections: cfg.connections })
  const write = (mode: ResetOnReturn): Variant => ({ label: `POST (UPDATE), resetOnReturn '${mode}'`, spec: spec({ resetOnReturn: mode }), method: 'POST', connections: cfg.connections })
  const reads = [
    read('GET, defaults (prePing off, rollback) (baseline)', {}),
    read('GET, poolPrePing on (default 500 ms bypass)', { prePing: true }),
    read('GET, poolPrePing on, bypass 0 (ping every checkout)', { prePing: true, prePingBypass: 0 }),
    read("GET, poolResetOnReturn 'reset'", { resetOnReturn: 'reset' }),
    read("GET, poolResetOnReturn 'none'", { resetOnReturn: 'none' })
  ]
  const writes = [write('none'), write('rollback'), write('reset')]
  // One scenario, so read and write variants interleave with each other too.
  const results = await runScenario('costs', [...reads, ...writes], cfg, progress)
  const readResults = results.slice(0, reads.length)
  const writeResults = results.slice(reads.length)
  return [
    `### Pre-ping and reset on return — ours, pool size ${PEER_POOL_SIZE}, ${cfg.connections} connections`,
    '',
    `Median of ${cfg.rounds} interleaved round(s) of ${cfg.duration} s. After a read-only statement the 'rollback' mode sends nothing;`,
    "'reset' sends COM_RESET_CONNECTION after any statement; pre-ping is skipped for a connection used within `poolPrePingBypass`.",
    '',
    'Read route (baseline: defaults):',
    '',
    table(STANDARD_HEADERS, readResults.map((r) => standardRow(r, readResults[0]))),
    '',
    "Write route (baseline: resetOnReturn 'none'):",
    '',
    table(STANDARD_HEADERS, writeResults.map((r) => standardRow(r, writeResults[0])))
  ].join('\n')
}
