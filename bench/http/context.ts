/**
 * Section 8: what the request context (AsyncLocalStorage, behind `app.db.current()`) costs on the
 * plain route. Two servers that differ only in `requestContext`. Unlike the peer comparison, which
 * keeps one process per variant for all its rounds, every round here starts a fresh process for
 * each: a process that happened to get slower machine code (JIT decisions, memory layout) weighs
 * on one round, not on the whole result, and an effect of a few per cent can be told from that.
 * Per-round ratios, median over the rounds.
 */
import type { BenchConfig } from '../config'
import { fmtInt, fmtNum, fmtRatio, median, table } from '../stats'
import type { AppSpec } from './apps'
import { load } from './load'
import { readProbe, startProbe, startServer, stopServer } from './servers'

/** Issue #13's bar: the route with the context at ≥ 0.98× of the same route without. */
const CONTEXT_GOAL = 0.98

interface Reading { reqPerSec: number, cpuPerRequest: number }

async function measureFresh (spec: AppSpec, cfg: BenchConfig): Promise<Reading> {
  const server = await startServer(spec)
  try {
    await load({ url: server.url, method: 'GET', connections: cfg.connections, duration: Math.max(1, cfg.warmup) })
    startProbe(server, false)
    const res = await load({ url: server.url, method: 'GET', connections: cfg.connections, duration: cfg.duration })
    const probe = await readProbe(server)
    return { reqPerSec: res.reqPerSec, cpuPerRequest: probe.cpuMicros / probe.statements }
  } finally {
    await stopServer(server)
  }
}

export async function runContext (cfg: BenchConfig, progress: (msg: string) => void): Promise<string> {
  const spec = (requestContext: boolean): AppSpec => ({ kind: 'ours', dbUrl: cfg.dbUrl, poolSize: 10, requestContext })
  const on: Reading[] = []
  const off: Reading[] = []
  for (let r = 0; r < cfg.contextRounds; r++) {
    // Alternate which goes first, so a drift within the round cancels too.
    for (const withContext of r % 2 === 0 ? [true, false] : [false, true]) {
      const reading = await measureFresh(spec(withContext), cfg)
      ;(withContext ? on : off).push(reading)
      progress(`context: round ${r + 1}/${cfg.contextRounds} requestContext ${String(withContext)}: ${fmtInt(reading.reqPerSec)} req/s, ${fmtNum(reading.cpuPerRequest, 1)} µs CPU/request`)
    }
  }
  const reqRatios = on.map((x, i) => x.reqPerSec / off[i].reqPerSec)
  // Requests per CPU-second, with against without: above 1 means the context costs nothing.
  const cpuRatios = on.map((x, i) => off[i].cpuPerRequest / x.cpuPerRequest)
  const reqRatio = median(reqRatios)
  const cpuRatio = median(cpuRatios)
  const rows = on.map((x, i) => [
    String(i + 1),
    fmtInt(x.reqPerSec),
    fmtInt(off[i].reqPerSec),
    fmtRatio(reqRatios[i]),
    fmtNum(x.cpuPerRequest, 1),
    fmtNum(off[i].cpuPerRequest, 1),
    fmtRatio(cpuRatios[i])
  ])
  rows.push(['**median**', fmtInt(median(on.map((x) => x.reqPerSec))), fmtInt(median(off.map((x) => x.reqPerSec))), `**${fmtRatio(reqRatio)}**`,
    fmtNum(median(on.map((x) => x.cpuPerRequest)), 1), fmtNum(median(off.map((x) => x.cpuPerRequest)), 1), `**${fmtRatio(cpuRatio)}**`])
  const met = (ratio: number): string => (ratio >= CONTEXT_GOAL ? '**met**' : '**not met**')
  return [
    `### GET /items/:id through \`request.db\`, \`requestContext\` true (the default) against false — Node ${process.version}`,
    '',
    `Pool size 10, ${cfg.connections} connections, ${cfg.contextRounds} rounds; in each round both variants run in fresh server processes`,
    `(${Math.max(1, cfg.warmup)} s warm-up, ${cfg.duration} s measured), in alternating order. Ratios: with the context ÷ without, per round; requests per CPU-second for the CPU.`,
    '',
    table(['round', 'req/s with', 'req/s without', 'req/s ratio', 'CPU µs/request with', 'CPU µs/request without', 'requests per CPU-second ratio'], rows),
    '',
    `- Issue #13's bar, ≥ ${CONTEXT_GOAL.toFixed(2)}× of the route without the context: req/s ${fmtRatio(reqRatio)} (${met(reqRatio)}), requests per CPU-second ${fmtRatio(cpuRatio)} (${met(cpuRatio)}).`
  ].join('\n')
}
