/**
 * `npm run bench`: runs the sections (pool micro-benchmark, HTTP vs peers, pre-ping/reset costs,
 * pool sizing), prints markdown tables and writes them to bench/RESULTS.md. Knobs: see config.ts.
 */
import fs from 'node:fs'
import os from 'node:os'
import { benchEnv, loadConfig, type BenchConfig } from './config'
import { runCosts } from './http/costs'
import { runPeers } from './http/peers'
import { killAll } from './http/servers'
import { runSizing } from './http/sizing'
import { runStream } from './stream'
import { runMicro } from './micro/micro'
import { setupDatabase, type DbInfo } from './setup-db'

function progress (msg: string): void {
  process.stderr.write(`[bench ${new Date().toISOString().slice(11, 19)}] ${msg}\n`)
}

function pkgVersion (name: string): string {
  return (require(`${name}/package.json`) as { version: string }).version
}

function header (cfg: BenchConfig, db: DbInfo, startedAt: Date): string {
  const env = benchEnv()
  const cpus = os.cpus()
  return [
    '# fastify-db-session benchmarks',
    '',
    ...(cfg.quick ? ['> **Quick run (BENCH_QUICK=1): short and noisy, for smoke-testing only.**', ''] : []),
    `- Date: ${startedAt.toISOString()}`,
    `- Command: \`${env === '' ? '' : env + ' '}npm run bench\` (= \`npm run build && node --enable-source-maps dist/bench/run.js\`)`,
    `- Node ${process.version}, mysql2 ${pkgVersion('mysql2')}, fastify ${pkgVersion('fastify')}, @fastify/mysql ${pkgVersion('@fastify/mysql')}, knex ${pkgVersion('knex')}, tarn ${pkgVersion('tarn')}, generic-pool ${pkgVersion('generic-pool')}, autocannon ${pkgVersion('autocannon')}`,
    `- Database: ${db.version} on loopback (innodb_flush_log_at_trx_commit=${db.flushLogAtTrxCommit})`,
    `- Machine: ${cpus.length} × ${cpus[0]?.model ?? 'unknown CPU'}, ${os.platform()} ${os.release()}; the load generator, the server (a child process) and MariaDB share it`,
    `- Settings: ${cfg.duration} s per load run, ${cfg.rounds} round(s), ${cfg.warmup} s warm-up per server, ${cfg.connections} connections (${cfg.sizingConnections} for sizing); micro: ${cfg.microRounds} rounds × ${cfg.microPairs} pairs`,
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
  const parts: string[] = [header(cfg, db, startedAt)]
  const emit = (title: string, body: string): void => {
    const text = `## ${title}\n\n${body}\n`
    parts.push(text)
    process.stdout.write(`\n${text}\n`)
  }
  if (cfg.sections.has('micro')) emit('1. Pool micro-benchmark (acquire + release, real connections)', (await runMicro(cfg, progress)).markdown)
  if (cfg.sections.has('peers')) emit('2. HTTP: fastify-db-session vs peers', await runPeers(cfg, progress))
  if (cfg.sections.has('costs')) emit('3. Pre-ping and reset-on-return costs', await runCosts(cfg, progress))
  if (cfg.sections.has('sizing')) emit('4. Pool sizing curve', await runSizing(cfg, progress))
  if (cfg.sections.has('stream')) emit('5. Streaming 1,000,000 rows over HTTP', await runStream(cfg.dbUrl, cfg.rounds, progress))
  const elapsed = (Date.now() - startedAt.getTime()) / 1000
  parts.push(`_Total benchmark time: ${elapsed.toFixed(0)} s._\n`)
  if (cfg.out !== null) {
    fs.writeFileSync(cfg.out, parts.join('\n'))
    progress(`wrote ${cfg.out} (${elapsed.toFixed(0)} s)`)
  }
}

main().then(() => {
  killAll()
  process.exit(0)
}, (err: unknown) => {
  killAll()
  console.error(err)
  process.exit(1)
})
