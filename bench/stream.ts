/**
 * Streaming benchmark: 1,000,000 rows exported over HTTP as NDJSON, by `request.db.stream()` and by
 * mysql2's own `query().stream()` on a pooled connection (the same Fastify app, the same NDJSON
 * transform), each server in a child process of its own so its RSS is its own. Reports rows/s
 * (client side, whole body read) and the server's peak RSS above its idle baseline (sampled every
 * 20 ms). Rounds alternate the two servers so machine noise hits both.
 *
 * Standalone: `npm run build && node dist/bench/stream.js`; in `npm run bench` as BENCH_ONLY=stream.
 */
import { fork, type ChildProcess } from 'node:child_process'
import http from 'node:http'
import type { AddressInfo } from 'node:net'
import { pipeline, Transform, type Readable } from 'node:stream'
import sensible from '@fastify/sensible'
import Fastify from 'fastify'
import mysql from 'mysql2'
import { dbSession } from '../lib'

export const STREAM_ROWS = 1_000_000
const SQL = `SELECT seq AS id, CONCAT('item-', seq) AS name, seq % 1000 AS n FROM seq_1_to_${STREAM_ROWS} LIMIT ?`
/** The warm-up export (JIT, first connection) before the baseline is taken: small, so the first big export's growth counts. */
const WARMUP_ROWS = 10_000

function limitOf (query: unknown): number {
  const n = Number((query as { limit?: string }).limit)
  return Number.isInteger(n) && n > 0 ? n : STREAM_ROWS
}
type Kind = 'fastify-db-session' | 'mysql2 stream'
const KINDS: Kind[] = ['fastify-db-session', 'mysql2 stream']

interface Ready { type: 'ready', port: number, baselineRss: number }
interface Peak { type: 'peak', peakRss: number }

function ndjson (): Transform {
  return new Transform({ writableObjectMode: true, transform (row, _e, cb) { cb(null, JSON.stringify(row) + '\n') } })
}

/** The child: one Fastify app streaming SQL one way or the other. */
async function serve (kind: Kind, url: string): Promise<void> {
  const app = Fastify()
  await app.register(sensible)
  if (kind === 'fastify-db-session') {
    await app.register(dbSession, { connection: url, poolSize: 2, logPoolStats: false })
    app.get('/export', async (request, reply) => {
      reply.type('application/x-ndjson')
      return pipeline(request.db.stream(SQL, [limitOf(request.query)]), ndjson(), () => {})
    })
  } else {
    const pool = mysql.createPool({ uri: url, connectionLimit: 2 })
    app.addHook('onClose', (_app, done) => { pool.end(() => done()) })
    app.get('/export', (request, reply) => {
      pool.getConnection((err, conn) => {
        if (err !== null) return reply.send(err)
        const rows: Readable = conn.query(SQL, [limitOf(request.query)]).stream()
        rows.once('close', () => conn.release())
        reply.type('application/x-ndjson').send(pipeline(rows, ndjson(), () => {}))
      })
      return reply
    })
  }
  await app.listen({ port: 0, host: '127.0.0.1' })
  // Warm up (JIT, first connection) with a short export, then measure the idle baseline.
  await fetchAll(`http://127.0.0.1:${(app.server.address() as AddressInfo).port}/export?limit=${WARMUP_ROWS}`)
  global.gc?.()
  await new Promise((resolve) => setTimeout(resolve, 200))
  let peak = process.memoryUsage.rss()
  const baselineRss = peak
  const timer = setInterval(() => { peak = Math.max(peak, process.memoryUsage.rss()) }, 20)
  process.on('message', (msg: string) => {
    if (msg === 'peak') {
      peak = Math.max(peak, process.memoryUsage.rss())
      process.send?.({ type: 'peak', peakRss: peak } satisfies Peak)
      peak = process.memoryUsage.rss()
    } else if (msg === 'stop') {
      clearInterval(timer)
      void app.close().then(() => process.exit(0))
    }
  })
  process.send?.({ type: 'ready', port: (app.server.address() as AddressInfo).port, baselineRss } satisfies Ready)
}

/** Reads a whole response, counting lines; resolves with the row count. */
function fetchAll (url: string): Promise<number> {
  return new Promise((resolve, reject) => {
    http.get(url, { agent: false }, (res) => {
      let lines = 0
      res.on('data', (chunk: Buffer) => {
        for (let i = chunk.indexOf(10); i !== -1; i = chunk.indexOf(10, i + 1)) lines++
      })
      res.on('end', () => resolve(lines))
      res.on('error', reject)
    }).on('error', reject)
  })
}

function start (kind: Kind, url: string): Promise<{ child: ChildProcess, port: number, baselineRss: number }> {
  const child = fork(__filename, [], { env: { ...process.env, BENCH_STREAM_ROLE: kind, BENCH_STREAM_URL: url }, stdio: ['ignore', 'inherit', 'inherit', 'ipc'], execArgv: ['--expose-gc'] })
  return new Promise((resolve, reject) => {
    child.once('message', (msg: Ready) => resolve({ child, port: msg.port, baselineRss: msg.baselineRss }))
    child.once('exit', (code) => reject(new Error(`${kind} server exited (${code})`)))
  })
}

function ask (child: ChildProcess): Promise<number> {
  return new Promise((resolve) => {
    child.once('message', (msg: Peak) => resolve(msg.peakRss))
    child.send('peak')
  })
}

const MB = 1024 * 1024

export async function runStream (url: string, rounds: number, progress: (msg: string) => void): Promise<string> {
  const results: Record<Kind, { rowsPerSec: number[], peakAboveBaseline: number[] }> = {
    'fastify-db-session': { rowsPerSec: [], peakAboveBaseline: [] },
    'mysql2 stream': { rowsPerSec: [], peakAboveBaseline: [] }
  }
  const servers = await Promise.all(KINDS.map((kind) => start(kind, url)))
  try {
    for (let round = 0; round < rounds; round++) {
      for (const [i, kind] of (round % 2 === 0 ? KINDS : [...KINDS].reverse()).entries()) {
        const server = servers[KINDS.indexOf(kind)]
        await ask(server.child) // resets the peak
        const started = performance.now()
        const rows = await fetchAll(`http://127.0.0.1:${server.port}/export`)
        const seconds = (performance.now() - started) / 1000
        if (rows !== STREAM_ROWS) throw new Error(`${kind}: got ${rows} rows, expected ${STREAM_ROWS}`)
        const peak = await ask(server.child)
        results[kind].rowsPerSec.push(rows / seconds)
        results[kind].peakAboveBaseline.push((peak - server.baselineRss) / MB)
        progress(`stream round ${round + 1}/${rounds} ${i}: ${kind} ${Math.round(rows / seconds)} rows/s, peak RSS +${((peak - server.baselineRss) / MB).toFixed(1)} MB`)
      }
    }
  } finally {
    for (const s of servers) s.child.send('stop')
  }
  const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]
  const ours = median(results['fastify-db-session'].rowsPerSec)
  const lines = [
    `${STREAM_ROWS.toLocaleString('en-US')} rows (id, name, n) as NDJSON over HTTP on loopback, whole body read by the client; ${rounds} round(s), medians; peak RSS = the server process's highest RSS during the export (sampled every 20 ms) minus its idle RSS after a ${WARMUP_ROWS.toLocaleString('en-US')}-row warm-up export, max over rounds (the first round includes the growth of the first big export).`,
    '',
    '| Server | rows/s | vs mysql2 stream | peak RSS above baseline (MB) |',
    '|---|---:|---:|---:|',
    ...KINDS.map((kind) => {
      const r = results[kind]
      const rate = median(r.rowsPerSec)
      return `| ${kind} | ${Math.round(rate).toLocaleString('en-US')} | ${(rate / median(results['mysql2 stream'].rowsPerSec)).toFixed(2)} | ${Math.max(...r.peakAboveBaseline).toFixed(1)} |`
    }),
    '',
    `Goal: < 100 MB above baseline. fastify-db-session streamed at ${(ours / median(results['mysql2 stream'].rowsPerSec) * 100).toFixed(0)} % of mysql2's own stream's rate.`
  ]
  return lines.join('\n')
}

const role = process.env.BENCH_STREAM_ROLE
if (role !== undefined) {
  serve(role as Kind, process.env.BENCH_STREAM_URL ?? '').catch((err: unknown) => {
    console.error(err)
    process.exit(1)
  })
} else if (require.main === module) {
  const url = process.env.BENCH_DB_URL ?? 'mysql://root@127.0.0.1:3306/test'
  runStream(url, Number(process.env.BENCH_ROUNDS ?? 3), (m) => process.stderr.write(m + '\n')).then((md) => {
    process.stdout.write(md + '\n')
    process.exit(0)
  }, (err: unknown) => {
    console.error(err)
    process.exit(1)
  })
}
