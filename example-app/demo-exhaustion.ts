/**
 * `npm run demo:exhaustion`: the classic pool exhaustion, on purpose, then the fix.
 *
 * Phase 1: a route takes a connection with `app.db.pool.connect()` (outside the request scope) and
 * never calls `conn.close()`. With poolSize 2 + maxOverflow 1, the fourth request waits
 * poolTimeout (1 s) and fails with 503 "QueuePool limit of size 2 overflow 1 reached, connection
 * timed out, timeout 1.00"; after leakDetectionThreshold (500 ms) the pool logs each leaked
 * connection with the stack that took it.
 * Phase 2: the pool is reset (`dispose()`), and the same load runs on a route that uses
 * `request.db`, which the plugin releases when each request ends: no errors.
 */
import pino from 'pino'
import type { PooledConnection } from '../lib'
import type { RowDataPacket } from 'mysql2'
import type { FastifyInstance } from 'fastify'
import { buildApp } from './app'
import { resolveDatabase } from './database'

const TTY = process.stdout.isTTY === true
const paint = (code: number, s: string): string => TTY ? `\x1b[${code}m${s}\x1b[0m` : s
const LEVELS: Record<number, string> = { 20: 'DEBUG', 30: paint(32, 'INFO '), 40: paint(33, 'WARN '), 50: paint(31, 'ERROR') }

/** A few lines of pretty-printing, so the demo reads without pino-pretty. */
class DemoLog {
  quiet = false
  hidden = 0
  readonly #urls = new Map<string, string>()

  write (line: string): void {
    const o = JSON.parse(line) as Record<string, unknown>
    const msg = String(o.msg ?? '')
    const reqId = typeof o.reqId === 'string' ? o.reqId : undefined
    if (msg === 'incoming request' && reqId !== undefined) {
      const req = o.req as { method: string, url: string }
      this.#urls.set(reqId, `${req.method} ${req.url}`)
      return
    }
    let text = msg
    if (msg === 'request completed' && reqId !== undefined) {
      if (this.quiet) { this.hidden++; return }
      const status = (o.res as { statusCode: number }).statusCode
      text = `${this.#urls.get(reqId) ?? reqId} -> ${status >= 400 ? paint(31, String(status)) : String(status)}`
      this.#urls.delete(reqId)
    }
    const fields: string[] = []
    if (typeof o.database === 'string') fields.push(`database=${o.database}`)
    if (o.dbPool !== undefined) fields.push(`dbPool=${pool(o.dbPool)}`)
    if (o.dbSession !== undefined) fields.push(`dbSession=${JSON.stringify(o.dbSession)}`)
    if (typeof o.heldMs === 'number') fields.push(`heldMs=${o.heldMs}`)
    const err = o.err as { code?: string, message?: string } | undefined
    if (err !== undefined && msg !== err.message) fields.push(`err=${err.code ?? ''} ${err.message ?? ''}`)
    process.stdout.write(`${LEVELS[o.level as number] ?? o.level} ${text}${fields.length > 0 ? '  ' + fields.join(' ') : ''}\n`)
    if (typeof o.stack === 'string') {
      process.stdout.write(paint(2, o.stack.split('\n').map((l) => `        ${l.trim()}`).join('\n')) + '\n')
    }
  }
}

function pool (stats: unknown): string {
  const s = stats as Record<string, number>
  return `{checkedOut:${s.checkedOut} checkedIn:${s.checkedIn} overflow:${s.overflow} waiting:${s.waiting} timeouts:${s.timeouts}}`
}

interface Tally { ok: number, unavailable: number, other: number, retryAfter: Set<string>, message: string | undefined }

async function load (app: FastifyInstance, url: string, total: number, concurrency: number): Promise<Tally> {
  const tally: Tally = { ok: 0, unavailable: 0, other: 0, retryAfter: new Set(), message: undefined }
  let next = 0
  async function worker (): Promise<void> {
    while (next < total) {
      next++
      const res = await app.inject({ method: 'GET', url })
      if (res.statusCode === 200) tally.ok++
      else if (res.statusCode === 503) {
        tally.unavailable++
        tally.message ??= (res.json() as { message: string }).message
        tally.retryAfter.add(String(res.headers['retry-after']))
      } else tally.other++
    }
  }
  await Promise.all(Array.from({ length: concurrency }, worker))
  return tally
}

function banner (text: string): void {
  process.stdout.write(`\n${paint(1, `=== ${text} ===`)}\n`)
}

async function main (): Promise<void> {
  const demoLog = new DemoLog()
  const log = pino({ level: 'info' }, demoLog)
  const database = await resolveDatabase(log)
  const app = buildApp({
    db: { connection: database.url, poolSize: 2, maxOverflow: 1, poolTimeout: 1000, leakDetectionThreshold: 500 },
    loggerInstance: log
  })

  // The bug under demonstration: a connection taken outside the request scope and never closed.
  // (The array exists only so the demo can clean up at the end; a real leak has no such list.)
  const leaked: PooledConnection[] = []
  app.get<{ Params: { id: number } }>('/leaky/items/:id', {
    schema: { params: { type: 'object', properties: { id: { type: 'integer' } } } }
  }, async function leakyHandler (request) {
    const conn = await app.db.pool.connect()
    leaked.push(conn)
    const [rows] = await conn.query<RowDataPacket[]>('SELECT id, name, stock FROM items WHERE id = ?', [request.params.id])
    return rows[0] ?? {}
    // missing: await conn.close()
  })

  await app.ready()
  await app.db.query('INSERT IGNORE INTO items (name, price_cents, stock) VALUES (?, ?, ?)', ['demo widget', 999, 100])
  const [rows] = await app.db.query<RowDataPacket[]>('SELECT id FROM items WHERE name = ?', ['demo widget'])
  const id = Number(rows[0].id)
  log.info(`Pool: poolSize 2, maxOverflow 1, poolTimeout 1000 ms, leakDetectionThreshold 500 ms. ${app.db.status()}`)

  banner('Phase 1: GET /leaky/items/:id takes app.db.pool.connect() and never closes it (6 requests, 3 at a time)')
  const t1 = Date.now()
  const leaky = await load(app, `/leaky/items/${id}`, 6, 3)
  const leakyMs = Date.now() - t1
  log.info(`After phase 1: ${app.db.status()}`)

  banner('Reset: await app.db.pool.dispose() (and close the leaked handles)')
  await app.db.pool.dispose()
  for (const conn of leaked) await conn.close()
  log.info(`After reset: ${app.db.status()}`)

  banner('Phase 2: GET /items/:id uses request.db, released by the plugin (60 requests, 6 at a time)')
  demoLog.quiet = true
  const t2 = Date.now()
  const good = await load(app, `/items/${id}`, 60, 6)
  const goodMs = Date.now() - t2
  demoLog.quiet = false
  log.info(`(${demoLog.hidden} request lines hidden) After phase 2: ${app.db.status()}`)
  const stats = app.db.stats()

  await app.close()
  await database.stop()

  banner('Summary')
  const rowsOut = [
    ['phase', 'requests', '200', '503', 'other', 'time'],
    ['1 leaky (pool.connect, no close)', String(leaky.ok + leaky.unavailable + leaky.other), String(leaky.ok), String(leaky.unavailable), String(leaky.other), `${leakyMs} ms`],
    ['2 request.db', String(good.ok + good.unavailable + good.other), String(good.ok), String(good.unavailable), String(good.other), `${goodMs} ms`]
  ]
  const widths = rowsOut[0].map((_, i) => Math.max(...rowsOut.map((r) => r[i].length)))
  for (const r of rowsOut) process.stdout.write(r.map((c, i) => c.padEnd(widths[i])).join('  ') + '\n')
  process.stdout.write('\nPhase 1: the first 3 requests got the pool\'s 3 connections (2 + 1 overflow) and leaked them;\n' +
    `every later request waited poolTimeout and got 503 ${JSON.stringify(leaky.message)}\n` +
    `(Retry-After: ${[...leaky.retryAfter].join(', ')}). leakDetectionThreshold logged each leaked connection with the stack that took it.\n` +
    `Phase 2: ${good.ok}/60 OK with ${stats.checkedOut} connections checked out at the end and ${stats.timeouts} pool timeouts.\n`)
  const expected = leaky.ok === 3 && leaky.unavailable === 3 && good.ok === 60 && stats.checkedOut === 0
  process.stdout.write(expected ? paint(32, 'Demo behaved as expected.\n') : paint(31, 'Unexpected result (see above).\n'))
  process.exitCode = expected ? 0 : 1
}

// The demo must end on its own, whatever happens.
setTimeout(() => {
  process.stderr.write('demo-exhaustion: did not finish within 20 s\n')
  process.exit(1)
}, 20_000).unref()

main().catch((err: unknown) => {
  console.error(err)
  process.exit(1)
})
