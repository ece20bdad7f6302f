/**
 * Shared pieces of the plugin tests: a Fastify app with @fastify/sensible and the plugin on the
 * real database (closed in t.teardown), a log capture, pool event counters and a real-socket
 * HTTP client (inject() cannot simulate client aborts).
 */
import http from 'node:http'
import type { AddressInfo } from 'node:net'
import Fastify, { type FastifyInstance, type FastifyServerOptions } from 'fastify'
import sensible from '@fastify/sensible'
import type mysql from 'mysql2/promise'
import type { RowDataPacket } from 'mysql2'
import type { Test } from 'tap'
import dbSession from '../../lib'
import type { DbSessionPluginOptions } from '../../lib/options'
import { activeTransactionThreads, databaseUrl, openTransactions } from '../helpers/db'
import { until } from '../helpers/pool'

interface Teardown { teardown: (fn: () => unknown) => void }

export type LogLine = Record<string, unknown> & { level: number, msg?: string }

export interface TestApp {
  app: FastifyInstance
  /** Every JSON log line written so far. */
  logs: LogLine[]
  /** Raw log text written so far (for "never appears anywhere" checks). */
  rawLogs: string[]
  /** Server thread ids of every connection the app's pool opened. */
  threadIds: Set<number>
}

export interface BuildOptions {
  plugin?: DbSessionPluginOptions
  fastify?: FastifyServerOptions
  /** Capture logs at this level (default 'info'); false = `logger: false`. */
  logLevel?: string | false
  /** Register routes/hooks before ready(). */
  setup?: (app: FastifyInstance) => void | Promise<void>
  /** Register hooks/routes before the plugin itself is registered. */
  before?: (app: FastifyInstance) => void | Promise<void>
}

/** A Fastify app with sensible + the plugin, closed in teardown. Not yet listening. */
export async function buildApp (t: Teardown, options: BuildOptions = {}): Promise<TestApp> {
  const logs: LogLine[] = []
  const rawLogs: string[] = []
  const stream = {
    write (s: string): void {
      rawLogs.push(s)
      for (const line of s.split('\n')) if (line.trim() !== '') logs.push(JSON.parse(line) as LogLine)
    }
  }
  const logger = options.logLevel === false ? false : { level: options.logLevel ?? 'info', stream }
  const app = Fastify({ logger, ...options.fastify })
  t.teardown(() => app.close())
  await app.register(sensible)
  if (options.before !== undefined) await options.before(app)
  await app.register(dbSession, { connection: await databaseUrl(), poolCloseTimeout: 1000, ...options.plugin })
  const threadIds = trackThreads(app)
  if (options.setup !== undefined) await options.setup(app)
  await app.ready()
  return { app, logs, rawLogs, threadIds }
}

const tracked = new WeakMap<FastifyInstance, Set<number>>()

/** Records the server thread id of every connection the app's pool opens. */
function trackThreads (app: FastifyInstance): Set<number> {
  const ids = new Set<number>()
  app.db.pool.on('connect', (conn) => { if (conn.threadId != null) ids.add(conn.threadId) })
  tracked.set(app, ids)
  return ids
}

/**
 * Open transactions on this app's connections. The server is shared with other test files
 * running in parallel, so the global openTransactions(admin) count is only meaningful there.
 */
export async function appTransactions (app: FastifyInstance, admin: mysql.Connection): Promise<number> {
  const ids = tracked.get(app) ?? new Set<number>()
  if (ids.size === 0) return 0
  let n = 0
  for (const id of await activeTransactionThreads(admin)) if (ids.has(id)) n++
  return n
}

/** Counts pool checkouts/checkins through the pool's events. */
export function countCheckins (app: FastifyInstance): { checkouts: number, checkins: number } {
  const counts = { checkouts: 0, checkins: 0 }
  app.db.pool.on('checkout', () => { counts.checkouts++ })
  app.db.pool.on('checkin', () => { counts.checkins++ })
  return counts
}

/** Listens on an ephemeral port; returns the base URL. */
export async function listen (app: FastifyInstance): Promise<string> {
  await app.listen({ port: 0, host: '127.0.0.1' })
  const { port } = app.server.address() as AddressInfo
  return `http://127.0.0.1:${port}`
}

export interface HttpResult { status: number, headers: http.IncomingHttpHeaders, body: string }

/** A plain GET/POST over a real socket (no keep-alive). */
export function request (url: string, init: { method?: string, body?: unknown } = {}): Promise<HttpResult> {
  return new Promise((resolve, reject) => {
    const payload = init.body === undefined ? undefined : JSON.stringify(init.body)
    const req = http.request(url, {
      method: init.method ?? 'GET',
      agent: false,
      headers: payload === undefined ? {} : { 'content-type': 'application/json', 'content-length': Buffer.byteLength(payload) }
    }, (res) => {
      let body = ''
      res.setEncoding('utf8')
      res.on('data', (c: string) => { body += c })
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body }))
      res.on('error', reject)
    })
    req.on('error', reject)
    req.end(payload)
  })
}

/**
 * Sends a GET and destroys the socket as soon as `abortWhen` resolves (e.g. once the handler has
 * started its query). Resolves once the socket is gone.
 */
export function abortedRequest (url: string, abortWhen: Promise<unknown>): Promise<void> {
  return new Promise((resolve) => {
    const req = http.get(url, { agent: false })
    req.on('error', () => {}) // ECONNRESET / socket hang up: expected
    req.on('close', () => resolve())
    req.on('response', () => { /* not expected; the test asserts what the server did */ })
    void abortWhen.then(() => req.destroy())
  })
}

/** A promise and its resolve function. */
export function deferred<T = void> (): { promise: Promise<T>, resolve: (v: T) => void } {
  let settle!: (v: T) => void
  const promise = new Promise<T>((resolve) => { settle = resolve })
  return { promise, resolve: settle }
}

/** Asserts the pool is back to 0 checked out and no transaction is left open on the server. */
export async function assertSettled (
  t: Test,
  app: FastifyInstance,
  admin: mysql.Connection,
  ms = 3000,
  // Set FDBS_DB_EXCLUSIVE=1 when nothing else uses the server: then every open transaction counts.
  exclusive = process.env.FDBS_DB_EXCLUSIVE === '1'
): Promise<void> {
  await until(() => app.db.stats().checkedOut === 0, ms, 'checkedOut to return to 0').catch(() => undefined)
  t.equal(app.db.stats().checkedOut, 0, 'no connection checked out')
  await until(async () => await appTransactions(app, admin) === 0, ms, 'open transactions to end').catch(() => undefined)
  t.equal(await appTransactions(app, admin), 0, 'no transaction left open on the app\'s connections')
  if (exclusive) {
    t.equal(await openTransactions(admin), 0, 'no transaction open on the server')
  }
}

/** Creates a table for this file (dropped in teardown). */
export async function createTable (t: Teardown, admin: mysql.Connection, name: string): Promise<void> {
  await admin.query(`DROP TABLE IF EXISTS \`${name}\``)
  await admin.query(`CREATE TABLE \`${name}\` (id INT AUTO_INCREMENT PRIMARY KEY, name VARCHAR(100) NOT NULL) ENGINE=InnoDB`)
  t.teardown(() => admin.query(`DROP TABLE IF EXISTS \`${name}\``))
}

/** The `request completed` lines logged so far. */
export function completedLines (logs: LogLine[]): LogLine[] {
  return logs.filter((l) => l.msg === 'request completed')
}

/** The `name` column of a test table, in insertion order. */
export async function tableNames (db: mysql.Connection, table: string): Promise<string[]> {
  const [rows] = await db.query<RowDataPacket[]>(`SELECT name FROM \`${table}\` ORDER BY id`)
  return rows.map((r) => String(r.name))
}
