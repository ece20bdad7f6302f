/**
 * `npm start`: the example service on PORT (default 3000).
 *
 *   MYSQL_URL        mysql://user:password@host:port/database (default: see database.ts)
 *   PORT, HOST       where to listen (default 3000 on 127.0.0.1)
 *   POOL_SIZE, MAX_OVERFLOW, POOL_TIMEOUT (ms), POOL_RECYCLE (ms), POOL_PRE_PING (true/false),
 *   LEAK_DETECTION_THRESHOLD (ms), LOG_LEVEL (default info)
 *   MYSQL_REPLICA_URL  a read replica of MYSQL_URL: GET /catalog reads there, with causal reads
 * validated at start by config.ts.
 *
 * Every `request completed` log line carries `dbPool` (the pool's stats) and, when the request
 * used the database, `dbSession` (queries, waitMs, heldMs).
 */
import pino from 'pino'
import { buildApp } from './app'
import { loadConfig, poolOptions } from './config'
import { resolveDatabase } from './database'
import { seedSampleItems } from './schema'

async function main (): Promise<void> {
  // Validated before anything starts: a bad variable ends the process here, named.
  const config = loadConfig()
  const log = pino({ level: config.LOG_LEVEL })
  const port = config.PORT
  const host = config.HOST

  const database = await resolveDatabase(log, config.MYSQL_URL)
  const app = buildApp({ db: { connection: database.url, ...poolOptions(config) }, loggerInstance: log })

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
    await app.ready() // plugins loaded, tables created (plugins/schema.ts)
    await seedSampleItems(app.db) // sample rows for an empty database
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
