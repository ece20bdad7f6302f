/**
 * `npm run bench`: runs the sections (pool micro-benchmark, HTTP vs peers, pre-ping/reset costs,
 * pool sizing, overload, CPU profile, streaming, the request context's cost, the plain route against
 * @fastify/mysql in paired rounds), prints markdown tables, writes them to bench/RESULTS.md
 * (a BENCH_ONLY run replaces only its sections there) and draws the charts into docs/charts/.
 * Knobs: see config.ts.
 */
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { benchEnv, loadConfig, type BenchConfig } from './config'
import { runContext } from './http/context'
import { runCosts } from './http/costs'
import { runCpuProfile } from './http/cpu-profile'
import { runHeadline } from './http/headline'
import { runOverload } from './http/overload'
import { runPeers } from './http/peers'
import { killAll } from './http/servers'
import { runSizing } from './http/sizing'
import { runStream } from './stream'
import { runMicro } from './micro/micro'
import { mergeResults, readIfExists, type MeasuredSection } from './results-file'
import { drawCharts, overloadData, peerData, sizingData } from './section-charts'
import { setupDatabase, type DbInfo } from './setup-db'

function progress (msg: string): void {
  process.stderr.write(`[bench ${new Date().toISOString().slice(11, 19)}] ${msg}\n`)
}

function pkgVersion (name: string): string {
  return (require(`${name}/package.json`) as { version: string }).version
}

function command (): string {
  const env = benchEnv().replace(/(BENCH_DB_URL=\S*\/\/[^:@/\s]*):[^@\s]*@/, '$1:****@')
  return `${env === '' ? '' : env + ' '}npm run bench`
}

function header (cfg: BenchConfig, db: DbInfo, startedAt: Date): string {
  const cpus = os.cpus()
  return [
    '# fastify-db-session benchmarks',
    '',
    ...(cfg.quick ? ['> **Quick run (BENCH_QUICK=1): short and noisy, for smoke-testing only.**', ''] : []),
    `- Last run: ${startedAt.toISOString()}, \`${command()}\` (= \`npm run build && node --enable-source-maps dist/bench/run.js\`); each section below says when and with which command it was measured`,
    `- Node ${process.version}, mysql2 ${pkgVersion('mysql2')}, fastify ${pkgVersion('fastify')}, @fastify/mysql ${pkgVersion('@fastify/mysql')}, knex ${pkgVersion('knex')}, tarn ${pkgVersion('tarn')}, generic-pool ${pkgVersion('generic-pool')}, autocannon ${pkgVersion('autocannon')}`,
    `- Database: ${db.version} on loopback (innodb_flush_log_at_trx_commit=${db.flushLogAtTrxCommit})`,
    `- Machine: ${cpus.length} × ${cpus[0]?.model ?? 'unknown CPU'}, ${os.platform()} ${os.release()}; the load generator, the server (a child process) and MariaDB share it`,
    `- Settings: ${cfg.duration} s per load run, ${cfg.rounds} round(s) (${cfg.peerRounds} for the peer comparison), ${cfg.warmup} s warm-up per server, ${cfg.connections} connections (${cfg.sizingConnections} for sizing); micro: ${cfg.microRounds} rounds × ${cfg.microPairs} pairs; overload: ${cfg.overloadRounds} round(s) of ${cfg.overloadDuration} s per run, client timeout ${cfg.overloadTimeout} ms, pool wait bound ${cfg.overloadPoolTimeout} ms`,
    '',
    'Only ratios measured within one run are meaningful; absolute numbers depend on the machine and its load.',
    ''
  ].join('\n')
}

async function main (): Promise<void> {
  const cfg = loadConfig()
  const startedAt = new Date()
  progress(`preparing bench_items on ${cfg.dbUrl.replace(/\/\/([^:@/]*):[^@]*@/, '//$1:****@')}`)
  const db = await setupDatabase(cfg.dbUrl)
  const measured: MeasuredSection[] = []
  const charts: string[] = []
  const date = startedAt.toISOString().slice(0, 10)
  const section = async (title: string, run: () => Promise<string>): Promise<void> => {
    const t0 = Date.now()
    const body = await run()
    const stamp = `_Measured ${new Date().toISOString().slice(0, 16).replace('T', ' ')} UTC with \`${command()}\` (${((Date.now() - t0) / 1000).toFixed(0)} s)._`
    const text = `${stamp}\n\n${body}`
    measured.push({ title, body: text })
    process.stdout.write(`\n## ${title}\n\n${text}\n\n`)
  }
  const chart = (files: string[]): void => {
    charts.push(...files)
  }
  if (cfg.sections.has('micro')) await section('1. Pool micro-benchmark (acquire + release, real connections)', async () => (await runMicro(cfg, progress)).markdown)
  if (cfg.sections.has('peers')) {
    await section('2. HTTP: fastify-db-session vs peers', async () => {
      const r = await runPeers(cfg, progress)
      if (cfg.chartsDir !== null) chart(drawCharts(cfg.chartsDir, peerData(r, date)))
      return r.markdown
    })
  }
  if (cfg.sections.has('costs')) await section('3. Pre-ping and reset-on-return costs', () => runCosts(cfg, progress))
  if (cfg.sections.has('sizing')) {
    await section('4. Pool sizing curve', async () => {
      const r = await runSizing(cfg, progress)
      if (cfg.chartsDir !== null) chart(drawCharts(cfg.chartsDir, sizingData(r, date)))
      return r.markdown
    })
  }
  if (cfg.sections.has('overload')) {
    await section('5. Overload: open-loop arrivals above the pool\'s capacity', async () => {
      const r = await runOverload(cfg, progress)
      if (cfg.chartsDir !== null) chart(drawCharts(cfg.chartsDir, overloadData(r, date)))
      return r.markdown
    })
  }
  if (cfg.sections.has('profile')) await section('6. The plugin\'s own CPU per request (profile)', async () => (await runCpuProfile(cfg, progress)).markdown)
  if (cfg.sections.has('stream')) await section('7. Streaming 1,000,000 rows over HTTP', () => runStream(cfg.dbUrl, cfg.rounds, progress))
  if (cfg.sections.has('context')) await section('8. The request context\'s cost, fresh processes per round', () => runContext(cfg, progress))
  if (cfg.sections.has('headline')) await section('9. The plain route against @fastify/mysql, paired rounds', () => runHeadline(cfg, progress))
  const elapsed = (Date.now() - startedAt.getTime()) / 1000
  if (cfg.out !== null) {
    fs.writeFileSync(cfg.out, mergeResults(readIfExists(cfg.out), header(cfg, db, startedAt), measured))
    progress(`wrote ${cfg.out} (${elapsed.toFixed(0)} s)`)
  }
  for (const file of charts) progress(`wrote ${path.relative(process.cwd(), file)}`)
}

main().then(() => {
  killAll()
  process.exit(0)
}, (err: unknown) => {
  killAll()
  console.error(err)
  process.exit(1)
})
