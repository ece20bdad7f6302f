/**
 * Load over real sockets for the reliability suite and the soak: a keep-alive HTTP client with
 * bounded concurrency and mid-request aborts, the mixed "chaos" workload (app + request mix) that
 * both test/reliability/chaos.test.ts and test/reliability/soak.ts run, and the database-side
 * figures they assert on (our connections, open transactions, sockets). `inject` cannot abort a
 * request, so everything here goes through node:http.
 *
 * Only imports lib/ and node/npm modules: soak.ts is compiled by tsconfig.build.json with it.
 */
import { appendFileSync, existsSync, mkdirSync } from 'node:fs'
import http from 'node:http'
import net from 'node:net'
import { dirname, join } from 'node:path'
import { performance } from 'node:perf_hooks'
import Fastify, { type FastifyInstance } from 'fastify'
import sensible from '@fastify/sensible'
import type mysql from 'mysql2/promise'
import { dbSession } from '../../lib/plugin/plugin'
import type { DbSessionPluginOptions } from '../../lib/options'
import { activeTransactionThreads } from './db'

// ---------------------------------------------------------------------------------------------
// HTTP client

export interface RequestSpec {
  /** Workload label, for the per-kind figures. */
  kind: string
  method?: 'GET' | 'POST'
  path: string
  body?: unknown
  /** Destroy the request this many ms after sending it (a client abort). */
  abortAfterMs?: number
  /** Statuses that count as the right answer; `'aborted'` for an abort. */
  expect: Array<number | 'aborted'>
}

export interface Response {
  status: number | 'aborted' | 'error'
  headers: http.IncomingHttpHeaders
  body: string
  ms: number
  startedAt: number
  error?: string
}

/** A keep-alive agent with at most `maxSockets` sockets; destroy() it when done. */
export function keepAliveAgent (maxSockets = 32): http.Agent {
  return new http.Agent({ keepAlive: true, maxSockets })
}

/** One request over a real socket; never rejects (errors and aborts are results). */
export function send (baseUrl: string, agent: http.Agent, spec: Omit<RequestSpec, 'kind' | 'expect'>): Promise<Response> {
  const startedAt = performance.now()
  return new Promise((resolve) => {
    let done = false
    const finish = (r: Omit<Response, 'ms' | 'startedAt'>): void => {
      if (done) return
      done = true
      if (timer !== undefined) clearTimeout(timer)
      resolve({ ...r, ms: performance.now() - startedAt, startedAt })
    }
    const payload = spec.body === undefined ? undefined : JSON.stringify(spec.body)
    const req = http.request(baseUrl + spec.path, {
      method: spec.method ?? 'GET',
      agent,
      headers: payload === undefined ? {} : { 'content-type': 'application/json', 'content-length': Buffer.byteLength(payload) }
    }, (res) => {
      const chunks: Buffer[] = []
      res.on('data', (c: Buffer) => chunks.push(c))
      res.on('end', () => finish({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks).toString() }))
      res.on('error', (err) => finish({ status: 'error', headers: res.headers, body: '', error: err.message }))
    })
    let timer: NodeJS.Timeout | undefined
    req.on('error', (err: NodeJS.ErrnoException) => {
      finish({ status: spec.abortAfterMs !== undefined && err.message === 'aborted-by-test' ? 'aborted' : 'error', headers: {}, body: '', error: err.code ?? err.message })
    })
    if (spec.abortAfterMs !== undefined) {
      timer = setTimeout(() => req.destroy(new Error('aborted-by-test')), spec.abortAfterMs)
    }
    req.end(payload)
  })
}

export interface LoadSummary {
  requests: number
  failures: number
  byKind: Record<string, { n: number, failures: number, statuses: Record<string, number> }>
  durationMs: number
  rps: number
  p50: number
  p99: number
  maxMs: number
  /** The first two unexpected answers of each kind and status, for the failure message. */
  samples: Array<{ kind: string, status: Response['status'], body: string, error?: string }>
}

/** Runs `total` requests from `make(i)`, at most `concurrency` at once, over one keep-alive agent. */
export async function runLoad (baseUrl: string, options: {
  total: number
  concurrency: number
  make: (i: number) => RequestSpec
  agent?: http.Agent
  onResult?: (spec: RequestSpec, res: Response, i: number) => void
}): Promise<LoadSummary> {
  const agent = options.agent ?? keepAliveAgent(options.concurrency)
  const summary: LoadSummary = { requests: 0, failures: 0, byKind: {}, durationMs: 0, rps: 0, p50: 0, p99: 0, maxMs: 0, samples: [] }
  const latencies: number[] = []
  let next = 0
  const started = performance.now()
  async function worker (): Promise<void> {
    while (next < options.total) {
      const i = next++
      const spec = options.make(i)
      const res = await send(baseUrl, agent, spec)
      summary.requests++
      latencies.push(res.ms)
      const k = (summary.byKind[spec.kind] ??= { n: 0, failures: 0, statuses: {} })
      k.n++
      k.statuses[String(res.status)] = (k.statuses[String(res.status)] ?? 0) + 1
      if (!spec.expect.includes(res.status as number | 'aborted')) {
        summary.failures++
        k.failures++
        if (summary.samples.filter((x) => x.kind === spec.kind && x.status === res.status).length < 2) summary.samples.push({ kind: spec.kind, status: res.status, body: res.body.slice(0, 300), error: res.error })
      }
      options.onResult?.(spec, res, i)
    }
  }
  await Promise.all(Array.from({ length: options.concurrency }, worker))
  if (options.agent === undefined) agent.destroy()
  summary.durationMs = Math.round(performance.now() - started)
  summary.rps = Math.round(summary.requests / (summary.durationMs / 1000))
  latencies.sort((a, b) => a - b)
  const pct = (p: number): number => latencies.length === 0 ? 0 : Math.round(latencies[Math.min(latencies.length - 1, Math.floor(latencies.length * p))] * 10) / 10
  summary.p50 = pct(0.5)
  summary.p99 = pct(0.99)
  summary.maxMs = Math.round((latencies[latencies.length - 1] ?? 0) * 10) / 10
  return summary
}

// ---------------------------------------------------------------------------------------------
// The chaos workload

/** Ends of a request the chaos mix produces, with their share (weights, summed to 100). */
export const CHAOS_WEIGHTS: Readonly<Record<string, number>> = Object.freeze({
  ok: 44, // read
  write: 10, // transactional route that commits
  throw: 10, // handler throws after a query
  validation: 8, // schema validation fails after an onRequest hook used the db
  notFound: 6, // 404 after an onRequest hook used the db
  txFail: 10, // transactional route throws after writing
  txAbort: 1, // transactional route, client aborts mid-transaction
  abort: 2, // client aborts mid-query (SELECT SLEEP)
  timeout: 3, // handlerTimeout fires mid-query
  queryError: 5 // SQL error (bad table)
})

const KINDS: string[] = Object.entries(CHAOS_WEIGHTS).flatMap(([k, w]) => Array.from({ length: w }, () => k))

/** Deterministic mix: request i → its spec (spread so every window of 100 has the full mix). */
export function chaosSpec (i: number, abortAfterMs = 20): RequestSpec {
  const kind = KINDS[(i * 37) % KINDS.length]
  switch (kind) {
    case 'ok': return { kind, path: '/ok', expect: [200] }
    case 'write': return { kind, method: 'POST', path: '/write', body: { n: i }, expect: [200] }
    case 'throw': return { kind, path: '/throw', expect: [500] }
    case 'validation': return { kind, method: 'POST', path: '/validated', body: { n: 'not a number' }, expect: [400] }
    case 'notFound': return { kind, path: `/missing/${i}`, expect: [404] }
    case 'txFail': return { kind, method: 'POST', path: '/tx-fail', body: { n: i }, expect: [500] }
    case 'txAbort': return { kind, method: 'POST', path: '/tx-slow', body: { n: i }, abortAfterMs, expect: ['aborted'] }
    case 'abort': return { kind, path: '/slow', abortAfterMs, expect: ['aborted'] }
    case 'timeout': return { kind, path: '/handler-timeout', expect: [503] }
    default: return { kind, path: '/bad-sql', expect: [500] }
  }
}

/**
 * The app the chaos mix runs against. Rows go to `table` (created here): `kind = 'ok'` rows from
 * committed writes, `'fail'`/`'abort'` rows from transactions that must have been rolled back.
 */
export async function buildChaosApp (admin: mysql.Connection, table: string, options: DbSessionPluginOptions): Promise<{ app: FastifyInstance, url: string }> {
  await admin.query(`CREATE TABLE IF NOT EXISTS ${table} (id INT AUTO_INCREMENT PRIMARY KEY, kind VARCHAR(8) NOT NULL, n INT NOT NULL) ENGINE=InnoDB`)
  await admin.query(`TRUNCATE TABLE ${table}`)
  const app = Fastify({ logger: false, forceCloseConnections: true })
  await app.register(sensible)
  await app.register(dbSession, options)
  const touchDb = async (request: { db: { query: (sql: string) => Promise<unknown> } }): Promise<void> => {
    await request.db.query('SELECT 1')
  }
  app.get('/ok', async (request) => {
    const [rows] = await request.db.query<mysql.RowDataPacket[]>('SELECT 1 AS one')
    return rows[0]
  })
  app.post('/write', { config: { db: { transaction: true } } }, async (request) => {
    const n = (request.body as { n: number }).n
    await request.db.query(`INSERT INTO ${table} (kind, n) VALUES ('ok', ?)`, [n])
    return { ok: true }
  })
  app.get('/throw', async (request) => {
    await request.db.query('SELECT 1')
    throw new Error('handler failed on purpose')
  })
  app.post('/validated', {
    onRequest: touchDb,
    schema: { body: { type: 'object', required: ['n'], properties: { n: { type: 'integer' } } } }
  }, async () => ({ ok: true }))
  app.setNotFoundHandler({ preHandler: touchDb }, async (_request, reply) => reply.code(404).send({ error: 'not found' }))
  app.post('/tx-fail', { config: { db: { transaction: true } } }, async (request) => {
    await request.db.query(`INSERT INTO ${table} (kind, n) VALUES ('fail', ?)`, [(request.body as { n: number }).n])
    throw new Error('failed after writing')
  })
  app.post('/tx-slow', { config: { db: { transaction: true } } }, async (request) => {
    await request.db.query(`INSERT INTO ${table} (kind, n) VALUES ('abort', ?)`, [(request.body as { n: number }).n])
    await request.db.query('SELECT SLEEP(0.1)')
    return { ok: true }
  })
  app.get('/slow', async (request) => {
    await request.db.query('SELECT SLEEP(0.1)')
    return { ok: true }
  })
  app.get('/handler-timeout', { handlerTimeout: 30 }, async (request) => {
    await request.db.query('SELECT SLEEP(0.1)')
    await request.db.query('SELECT 1') // SessionClosedError: the request already ended
    return { ok: true }
  })
  app.get('/bad-sql', async (request) => {
    await request.db.query('SELECT * FROM no_such_table_fdbs')
    return { ok: true }
  })
  const url = await app.listen({ port: 0, host: '127.0.0.1' })
  return { app, url }
}

// ---------------------------------------------------------------------------------------------
// Database-side figures

/** Creates (or re-creates) a user with a password and all rights on `database`; returns its URL. */
export async function createDbUser (admin: mysql.Connection, baseUrl: string, user: string, password: string, database = 'test'): Promise<string> {
  await admin.query('DROP USER IF EXISTS ?@?', [user, '%'])
  await admin.query('CREATE USER ?@? IDENTIFIED BY ?', [user, '%', password])
  await admin.query(`GRANT ALL ON \`${database}\`.* TO ?@?`, [user, '%'])
  const u = new URL(baseUrl)
  u.username = user
  u.password = password
  u.pathname = '/' + database
  return u.toString()
}

export async function dropDbUser (admin: mysql.Connection, user: string): Promise<void> {
  // Its connections first, so nothing of ours lingers on the server.
  const [rows] = await admin.query<mysql.RowDataPacket[]>('SELECT id FROM information_schema.processlist WHERE user = ?', [user])
  for (const r of rows) await admin.query(`KILL ${Number(r.id)}`).catch(() => undefined)
  await admin.query('DROP USER IF EXISTS ?@?', [user, '%'])
}

/** Server threads of `user` (the pool's connections, plus any still being killed). */
export async function userThreads (admin: mysql.Connection, user: string): Promise<Array<{ id: number, command: string, time: number }>> {
  const [rows] = await admin.query<mysql.RowDataPacket[]>('SELECT id, command, time FROM information_schema.processlist WHERE user = ?', [user])
  return rows.map((r) => ({ id: Number(r.id), command: String(r.command), time: Number(r.time) }))
}

/**
 * Open InnoDB transactions on connections of `user`, read live (SHOW ENGINE INNODB STATUS):
 * polling information_schema.innodb_trx keeps its cache stale, here and for every parallel test.
 */
export async function userTransactions (admin: mysql.Connection, user: string): Promise<number> {
  const ours = new Set((await userThreads(admin, user)).map((thread) => thread.id))
  if (ours.size === 0) return 0
  let n = 0
  for (const id of await activeTransactionThreads(admin)) if (ours.has(id)) n++
  return n
}

/** net.Socket handles this process holds right now (HTTP, database, stdio pipes alike). */
export function openSockets (): number {
  const handles = (process as unknown as { _getActiveHandles: () => unknown[] })._getActiveHandles()
  return handles.filter((h) => h instanceof net.Socket).length
}

/** Polls until `check()` holds or `ms` passed; returns whether it held. */
export async function waitFor (check: () => boolean | Promise<boolean>, ms: number): Promise<boolean> {
  const deadline = performance.now() + ms
  for (;;) {
    if (await check()) return true
    if (performance.now() > deadline) return false
    await new Promise((resolve) => setTimeout(resolve, 20))
  }
}

// ---------------------------------------------------------------------------------------------
// Figures for the report

function repoRoot (): string {
  let dir = __dirname
  while (!existsSync(join(dir, 'package.json')) || dir.endsWith('dist')) {
    const up = dirname(dir)
    if (up === dir) return process.cwd()
    dir = up
  }
  return dir
}

/** Appends one JSON line of figures to `.tmp/reliability/<scenario>.json` (gitignored). */
export function recordResult (scenario: string, figures: Record<string, unknown>): void {
  const dir = join(repoRoot(), '.tmp', 'reliability')
  mkdirSync(dir, { recursive: true })
  appendFileSync(join(dir, `${scenario}.json`), JSON.stringify({ scenario, at: new Date().toISOString(), ...figures }) + '\n')
}
