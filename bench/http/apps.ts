/**
 * The Fastify apps under load, one per variant. Every variant serves the same routes with
 * the same SQL over the text protocol (`query`, not `execute`) and the same pool size:
 *   GET  /items/:id  SELECT one row by primary key (read)
 *   POST /items/:id  UPDATE … SET n = n + 1 (write: our pool then really resets on return)
 *   GET  /sleep      SELECT SLEEP(0.02): a 20 ms statement, for the overload section
 */
import sensible from '@fastify/sensible'
import fastifyMysql, { type MySQLPromisePool } from '@fastify/mysql'
import Fastify, { type FastifyInstance, type FastifyReply, type FastifyRequest, type RouteHandlerMethod } from 'fastify'
import knexFactory from 'knex'
import { AsyncLocalStorage } from 'node:async_hooks'
import mysql from 'mysql2/promise'
import pino from 'pino'
import { dbSession, type ResetOnReturn } from '../../lib'
import { FAST_REFUSAL_MS } from './goals'

export const READ_SQL = 'SELECT id, name, price, n FROM bench_items WHERE id = ?'
export const WRITE_SQL = 'UPDATE bench_items SET n = n + 1 WHERE id = ?'
/** The overload section's statement: the database holds the connection for 20 ms. */
export const SLEEP_SQL = 'SELECT SLEEP(0.02) AS slept'

export type AppKind = 'no-db' | 'mysql2-pool' | 'fastify-mysql' | 'fastify-mysql-scoped' | 'knex' | 'ours'

export interface AppSpec {
  kind: AppKind
  dbUrl: string
  poolSize: number
  /** Fastify's `logger: true` level (info), written by pino's sonic-boom to /dev/null (else `logger: false`). */
  logging?: boolean
  prePing?: boolean
  prePingBypass?: number
  resetOnReturn?: ResetOnReturn
  useLifo?: boolean
  /** Ours: the routes reach their session through `app.db.current()` instead of `request.db`. */
  viaCurrent?: boolean
  /** Ours: the `requestContext` option (the async context behind `current()`; on by default). */
  requestContext?: boolean
  /** Ours: the `logPoolStats` option (pool gauges and session stats on the "request completed" line; on by default). */
  logPoolStats?: boolean
  /**
   * Any variant but ours: run every handler in a plain `AsyncLocalStorage.run(request, …)`, as any
   * request-context plugin does: what the runtime's async context costs a route by itself.
   */
  bareContext?: boolean
  /** Ours: controlled delay and adaptive LIFO (`poolQueueTarget`, `poolQueueInterval`, `poolAdaptiveLifo`). */
  queueTarget?: number
  queueInterval?: number
  adaptiveLifo?: boolean
  /** Ours: `poolFailFast` (refuse at once a checkout the queue ahead cannot serve within its timeout). */
  failFast?: boolean
  /** Ours: `poolTimeout` (ms); knex: `acquireTimeoutMillis`. mysql2's pool has no such bound. */
  poolTimeout?: number
  /** Fastify's `handlerTimeout` (ms), whatever the variant. */
  handlerTimeout?: number
  /** Time every 503 in the server (Fastify's `reply.elapsedTime` at onResponse), for the overload section. */
  time503?: boolean
}

/** What the server process can report about its pool while under load (the overload section). */
export interface PoolProbe {
  /** Checkouts queued for a connection right now. */
  waiting: () => number
  /** Statements that completed (whether or not their client was still there to get the answer). */
  statements: number
  /** Ours: checkouts refused at once (`refused`) and checkouts that waited out their whole timeout. */
  timeouts?: () => { refused: number, waitedOut: number }
  /** With `time503`: 503s answered, how many took ≥ 10 ms in the server, and the slowest (ms). */
  served503: { count: number, slow: number, maxMs: number }
}

export interface BuiltApp {
  app: FastifyInstance
  probe: PoolProbe
}

type Rows = unknown[]
const noop = (): void => {}
/** Runs one statement for a request and returns its rows (or result header). */
type Runner = (request: FastifyRequest, sql: string, values: unknown[]) => Promise<unknown>

function itemId (request: FastifyRequest): number {
  return Number((request.params as { id: string }).id)
}

function addRoutes (app: FastifyInstance, probe: PoolProbe, runStatement: Runner): void {
  const run: Runner = async (request, sql, values) => {
    const result = await runStatement(request, sql, values)
    probe.statements++
    return result
  }
  app.get('/items/:id', async (request, reply) => {
    const rows = await run(request, READ_SQL, [itemId(request)]) as Rows
    if (rows.length === 0) return reply.code(404).send({ error: 'not found' })
    return rows[0]
  })
  app.post('/items/:id', async (request) => {
    const header = await run(request, WRITE_SQL, [itemId(request)]) as { affectedRows: number }
    return { updated: header.affectedRows }
  })
  app.get('/sleep', async (request) => {
    const rows = await run(request, SLEEP_SQL, []) as Rows
    return { slept: rows.length }
  })
}

interface Wrapped { pool?: Wrapped, _connectionQueue?: { length: number } }

/**
 * mysql2's pool keeps its waiters in `_connectionQueue` (no public count exists), under one
 * wrapper (mysql2/promise) or two (@fastify/mysql's promise API).
 */
function mysql2Waiting (pool: MySQLPromisePool | mysql.Pool): () => number {
  let core = pool as unknown as Wrapped | undefined
  while (core !== undefined && core._connectionQueue === undefined) core = core.pool
  const queue = core?._connectionQueue
  if (queue === undefined) throw new Error('mysql2 pool internals changed: no _connectionQueue')
  return () => queue.length
}

async function withMysql2Pool (app: FastifyInstance, spec: AppSpec, probe: PoolProbe): Promise<void> {
  const pool = mysql.createPool({ uri: spec.dbUrl, connectionLimit: spec.poolSize, maxIdle: spec.poolSize })
  app.addHook('onClose', async () => { await pool.end() })
  probe.waiting = mysql2Waiting(pool)
  addRoutes(app, probe, async (_request, sql, values) => (await pool.query(sql, values))[0])
}

async function withFastifyMysql (app: FastifyInstance, spec: AppSpec, probe: PoolProbe, scoped: boolean): Promise<void> {
  // `uri`, not `connectionString`: @fastify/mysql hands a connectionString alone to mysql2 and
  // drops every other option (connectionLimit would silently be mysql2's default of 10).
  await app.register(fastifyMysql, { promise: true, uri: spec.dbUrl, connectionLimit: spec.poolSize, maxIdle: spec.poolSize })
  const db = (): MySQLPromisePool => (app as unknown as { mysql: MySQLPromisePool }).mysql
  probe.waiting = mysql2Waiting(db())
  if (!scoped) {
    addRoutes(app, probe, async (_request, sql, values) => (await db().query(sql, values))[0])
    return
  }
  // What users write for a connection per request: take it before the handler, release it in
  // onResponse. onResponse never runs for a request whose client went away (fastify#6208), so on
  // its own this leaks a connection per aborted request: autocannon aborts the requests in flight
  // when each run ends, and the pool was empty after the first run. The response 'close' guard
  // (which our plugin has built in) keeps the variant measurable.
  type Held = FastifyRequest & { dbConn?: mysql.PoolConnection }
  const release = (request: Held): void => {
    const conn = request.dbConn
    request.dbConn = undefined // never release twice: by then it may belong to another request
    conn?.release()
  }
  app.addHook('preHandler', async (request, reply) => {
    (request as Held).dbConn = await db().getConnection()
    // The client may have gone while we waited for the pool: then 'close' already fired.
    if (request.raw.socket?.destroyed !== false) release(request as Held)
    else reply.raw.once('close', () => release(request as Held))
  })
  app.addHook('onResponse', async (request) => {
    release(request as Held)
  })
  addRoutes(app, probe, async (request, sql, values) => {
    const conn = (request as Held).dbConn as mysql.PoolConnection
    return (await conn.query(sql, values))[0]
  })
}

async function withKnex (app: FastifyInstance, spec: AppSpec, probe: PoolProbe): Promise<void> {
  const knex = knexFactory({
    client: 'mysql2',
    connection: spec.dbUrl,
    pool: { min: 0, max: spec.poolSize, ...(spec.poolTimeout === undefined ? {} : { acquireTimeoutMillis: spec.poolTimeout }) },
    // knex prints every acquire timeout with its stack to stderr: thousands of lines under overload.
    log: { warn: noop, error: noop, debug: noop, deprecate: noop }
  })
  app.addHook('onClose', async () => { await knex.destroy() })
  const tarn = knex.client.pool as { numPendingAcquires: () => number }
  probe.waiting = () => tarn.numPendingAcquires()
  // knex.raw: the same SQL as the others, so the difference is knex's runner and tarn, not the builder.
  addRoutes(app, probe, async (_request, sql, values) => (await knex.raw(sql, values as number[]))[0])
}

async function withOurs (app: FastifyInstance, spec: AppSpec, probe: PoolProbe): Promise<void> {
  await app.register(sensible)
  await app.register(dbSession, {
    connection: spec.dbUrl,
    poolSize: spec.poolSize,
    maxOverflow: 0,
    poolPrePing: spec.prePing ?? false,
    poolPrePingBypass: spec.prePingBypass,
    poolResetOnReturn: spec.resetOnReturn ?? 'rollback',
    poolUseLifo: spec.useLifo ?? false,
    ...(spec.poolTimeout === undefined ? {} : { poolTimeout: spec.poolTimeout }),
    ...(spec.requestContext === undefined ? {} : { requestContext: spec.requestContext }),
    ...(spec.logPoolStats === undefined ? {} : { logPoolStats: spec.logPoolStats }),
    ...(spec.queueTarget === undefined ? {} : { poolQueueTarget: spec.queueTarget }),
    ...(spec.queueInterval === undefined ? {} : { poolQueueInterval: spec.queueInterval }),
    ...(spec.adaptiveLifo === undefined ? {} : { poolAdaptiveLifo: spec.adaptiveLifo }),
    ...(spec.failFast === undefined ? {} : { poolFailFast: spec.failFast })
  })
  probe.waiting = () => app.db.stats().waiting
  probe.timeouts = () => {
    const s = app.db.stats()
    return { refused: s.refused, waitedOut: s.timeouts - s.refused }
  }
  if (spec.viaCurrent === true) {
    // The route asks the async context for its session, as a service module would (issue #13).
    addRoutes(app, probe, async (_request, sql, values) => (await app.db.current().query(sql, values))[0])
  } else {
    addRoutes(app, probe, async (request, sql, values) => (await request.db.query(sql, values))[0])
  }
}

function callWith (server: FastifyInstance, handler: RouteHandlerMethod, request: FastifyRequest, reply: FastifyReply): unknown {
  return handler.call(server, request, reply)
}

/** Every handler registered from here on runs in `AsyncLocalStorage.run` with its request as the store. */
function inBareContext (app: FastifyInstance): void {
  const store = new AsyncLocalStorage<FastifyRequest>()
  app.addHook('onRoute', (route) => {
    const handler = route.handler
    route.handler = function inContext (this: FastifyInstance, request, reply) {
      return store.run(request, callWith, this, handler, request, reply)
    }
  })
}

/** Fastify's info-level request logging into /dev/null through sonic-boom, pino's fast destination. */
function loggerOption (spec: AppSpec): { level: string, stream: pino.DestinationStream } | false {
  return spec.logging === true ? { level: 'info', stream: pino.destination({ dest: '/dev/null', sync: false }) } : false
}

export async function buildApp (spec: AppSpec): Promise<BuiltApp> {
  const app = Fastify({
    logger: loggerOption(spec),
    ...(spec.handlerTimeout === undefined ? {} : { handlerTimeout: spec.handlerTimeout })
  })
  const probe: PoolProbe = { waiting: () => 0, statements: 0, served503: { count: 0, slow: 0, maxMs: 0 } }
  if (spec.time503 === true) {
    const served = probe.served503
    app.addHook('onResponse', (_request, reply, done) => {
      if (reply.statusCode === 503) {
        const ms = reply.elapsedTime
        served.count++
        if (ms >= FAST_REFUSAL_MS) served.slow++
        if (ms > served.maxMs) served.maxMs = ms
      }
      done()
    })
  }
  if (spec.bareContext === true) {
    if (spec.kind === 'ours') throw new Error('bareContext: ours has its own (requestContext)')
    inBareContext(app)
  }
  switch (spec.kind) {
    case 'no-db':
      addRoutes(app, probe, async (_request, sql, values) => (sql === WRITE_SQL ? { affectedRows: 1 } : [{ id: values[0], name: `item-${String(values[0])}`, price: '0.00', n: 0 }]))
      break
    case 'mysql2-pool':
      await withMysql2Pool(app, spec, probe)
      break
    case 'fastify-mysql':
      await withFastifyMysql(app, spec, probe, false)
      break
    case 'fastify-mysql-scoped':
      await withFastifyMysql(app, spec, probe, true)
      break
    case 'knex':
      await withKnex(app, spec, probe)
      break
    case 'ours':
      await withOurs(app, spec, probe)
      break
  }
  return { app, probe }
}
