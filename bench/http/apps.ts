/**
 * The Fastify apps under load, one per variant. Every variant serves the same two routes with
 * the same SQL over the text protocol (`query`, not `execute`) and the same pool size:
 *   GET  /items/:id  SELECT one row by primary key (read)
 *   POST /items/:id  UPDATE … SET n = n + 1 (write: our pool then really resets on return)
 */
import fs from 'node:fs'
import sensible from '@fastify/sensible'
import fastifyMysql, { type MySQLPromisePool } from '@fastify/mysql'
import Fastify, { type FastifyInstance, type FastifyRequest } from 'fastify'
import knexFactory from 'knex'
import mysql from 'mysql2/promise'
import { dbSession, type ResetOnReturn } from '../../lib'

export const READ_SQL = 'SELECT id, name, price, n FROM bench_items WHERE id = ?'
export const WRITE_SQL = 'UPDATE bench_items SET n = n + 1 WHERE id = ?'

export type AppKind = 'no-db' | 'mysql2-pool' | 'fastify-mysql' | 'fastify-mysql-scoped' | 'knex' | 'ours'

export interface AppSpec {
  kind: AppKind
  dbUrl: string
  poolSize: number
  /** Fastify request logging through pino into /dev/null (else `logger: false`). */
  logging?: boolean
  prePing?: boolean
  prePingBypass?: number
  resetOnReturn?: ResetOnReturn
  useLifo?: boolean
}

type Rows = unknown[]
/** Runs one statement for a request and returns its rows (or result header). */
type Runner = (request: FastifyRequest, sql: string, id: number) => Promise<unknown>

function itemId (request: FastifyRequest): number {
  return Number((request.params as { id: string }).id)
}

function addRoutes (app: FastifyInstance, run: Runner): void {
  app.get('/items/:id', async (request, reply) => {
    const rows = await run(request, READ_SQL, itemId(request)) as Rows
    if (rows.length === 0) return reply.code(404).send({ error: 'not found' })
    return rows[0]
  })
  app.post('/items/:id', async (request) => {
    const header = await run(request, WRITE_SQL, itemId(request)) as { affectedRows: number }
    return { updated: header.affectedRows }
  })
}

async function withMysql2Pool (app: FastifyInstance, spec: AppSpec): Promise<void> {
  const pool = mysql.createPool({ uri: spec.dbUrl, connectionLimit: spec.poolSize, maxIdle: spec.poolSize })
  app.addHook('onClose', async () => { await pool.end() })
  addRoutes(app, async (_request, sql, id) => (await pool.query(sql, [id]))[0])
}

async function withFastifyMysql (app: FastifyInstance, spec: AppSpec, scoped: boolean): Promise<void> {
  await app.register(fastifyMysql, { promise: true, connectionString: spec.dbUrl, connectionLimit: spec.poolSize, maxIdle: spec.poolSize })
  const db = (): MySQLPromisePool => (app as unknown as { mysql: MySQLPromisePool }).mysql
  if (!scoped) {
    addRoutes(app, async (_request, sql, id) => (await db().query(sql, [id]))[0])
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
  addRoutes(app, async (request, sql, id) => {
    const conn = (request as Held).dbConn as mysql.PoolConnection
    return (await conn.query(sql, [id]))[0]
  })
}

async function withKnex (app: FastifyInstance, spec: AppSpec): Promise<void> {
  const knex = knexFactory({ client: 'mysql2', connection: spec.dbUrl, pool: { min: 0, max: spec.poolSize } })
  app.addHook('onClose', async () => { await knex.destroy() })
  // knex.raw: the same SQL as the others, so the difference is knex's runner and tarn, not the builder.
  addRoutes(app, async (_request, sql, id) => (await knex.raw(sql, [id]))[0])
}

async function withOurs (app: FastifyInstance, spec: AppSpec): Promise<void> {
  await app.register(sensible)
  await app.register(dbSession, {
    connection: spec.dbUrl,
    poolSize: spec.poolSize,
    maxOverflow: 0,
    poolPrePing: spec.prePing ?? false,
    poolPrePingBypass: spec.prePingBypass,
    poolResetOnReturn: spec.resetOnReturn ?? 'rollback',
    poolUseLifo: spec.useLifo ?? false
  })
  addRoutes(app, async (request, sql, id) => (await request.db.query(sql, [id]))[0])
}

export async function buildApp (spec: AppSpec): Promise<FastifyInstance> {
  const app = Fastify({
    logger: spec.logging === true ? { level: 'info', stream: fs.createWriteStream('/dev/null') } : false
  })
  switch (spec.kind) {
    case 'no-db':
      addRoutes(app, async (_request, sql, id) => (sql === READ_SQL ? [{ id, name: `item-${id}`, price: '0.00', n: 0 }] : { affectedRows: 1 }))
      break
    case 'mysql2-pool':
      await withMysql2Pool(app, spec)
      break
    case 'fastify-mysql':
      await withFastifyMysql(app, spec, false)
      break
    case 'fastify-mysql-scoped':
      await withFastifyMysql(app, spec, true)
      break
    case 'knex':
      await withKnex(app, spec)
      break
    case 'ours':
      await withOurs(app, spec)
      break
  }
  return app
}
