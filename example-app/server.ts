/**
 * `npm start`: the example service on PORT (default 3000).
 *
 *   MYSQL_URL        mysql://user:password@host:port/database (default: see database.ts)
 *   PORT, HOST       where to listen (default 3000 on 127.0.0.1)
 *   POOL_SIZE, MAX_OVERFLOW, POOL_TIMEOUT (ms), POOL_RECYCLE (ms), POOL_PRE_PING (true/false),
 *   LEAK_DETECTION_THRESHOLD (ms), LOG_LEVEL (default info)
 *   MYSQL_REPLICA_URL  a read replica of MYSQL_URL: GET /catalog reads there, with causal reads
 *
 * Every `request completed` log line carries `dbPool` (the pool's stats) and, when the request
 * used the database, `dbSession` (queries, waitMs, heldMs).
 */
import pino from 'pino'
import type { DbSessionPluginOptions } from '../lib'
import { buildApp } from './app'
import { resolveDatabase } from './database'
import { seedSampleItems } from './schema'

function intEnv (name: string): number | undefined {
  const raw = process.env[name]
  if (raw === undefined || raw === '') return undefined
  const value = Number(raw)
  if (!Number.isFinite(value)) throw new Error(`${name} must be a number, got ${JSON.stringify(raw)}`)
  return value
}

function boolEnv (name: string): boolean | undefined {
  const raw = process.env[name]
  if (raw === undefined || raw === '') return undefined
  if (/^(1|true|yes|on)$/i.test(raw)) return true
  if (/^(0|false|no|off)$/i.test(raw)) return false
  throw new Error(`${name} must be true or false, got ${JSON.stringify(raw)}`)
}

function poolOptionsFromEnv (): Omit<DbSessionPluginOptions, 'connection'> {
  return {
    poolSize: intEnv('POOL_SIZE'),
    maxOverflow: intEnv('MAX_OVERFLOW'),
    poolTimeout: intEnv('POOL_TIMEOUT'),
    poolRecycle: intEnv('POOL_RECYCLE'),
    poolPrePing: boolEnv('POOL_PRE_PING'),
    leakDetectionThreshold: intEnv('LEAK_DETECTION_THRESHOLD'),
    ...(process.env.MYSQL_REPLICA_URL === undefined || process.env.MYSQL_REPLICA_URL === ''
      ? {}
      : { replicas: [process.env.MYSQL_REPLICA_URL], causalReads: true })
  }
}

async function main (): Promise<void> {
  const log = pino({ level: process.env.LOG_LEVEL ?? 'info' })
  const port = intEnv('PORT') ?? 3000
  const host = process.env.HOST ?? '127.0.0.1'
  const poolOptions = poolOptionsFromEnv()

  const database = await resolveDatabase(log)
  const app = buildApp({ db: { connection: database.url, ...poolOptions }, loggerInstance: log })
  // After the tables exist (buildApp's onReady hook runs first): sample rows for an empty database.
  app.addHook('onReady', async function seed () { await seedSampleItems(app.db) })

  let stopping = false
  async function shutdown (signal: string): Promise<void> {
    if (stopping) return
    stopping = true
    log.info({ signal }, 'Shutting down: finishing in-flight requests, then closing the pool')
    try {
      await app.close()
    } catch (err) {
      log.error({ err }, 'Error while closing the app')
    }
    await database.stop()
    log.info('Bye')
    process.exit(0)
  }
  process.once('SIGINT', () => { void shutdown('SIGINT') })
  process.once('SIGTERM', () => { void shutdown('SIGTERM') })

  try {
    await app.listen({ port, host })
  } catch (err) {
    log.error({ err }, 'Could not start')
    await app.close().catch(() => {})
    await database.stop()
    process.exit(1)
  }
  log.info({ pool: app.db.status() }, `Try: curl http://${host === '0.0.0.0' ? '127.0.0.1' : host}:${port}/items`)
}

void main().catch((err: unknown) => {
  console.error(err)
  process.exit(1)
})
