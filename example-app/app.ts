/**
 * The example service: items and orders over MariaDB/MySQL with one database session per request.
 * `buildApp()` returns the Fastify instance without listening, so tests drive it with `inject`.
 *
 * In your own project the imports read `from 'fastify-db-session'`; this example lives inside
 * the package, so it imports the sources.
 */
import sensible from '@fastify/sensible'
import Fastify, { type FastifyBaseLogger, type FastifyInstance, type FastifyServerOptions } from 'fastify'
import { dbSession, type DbSessionPluginOptions } from '../lib'
import healthRoutes from './routes/health'
import itemRoutes from './routes/items'
import orderRoutes from './routes/orders'
import catalogRoutes from './routes/catalog'
import { ensureSchema } from './schema'

export interface AppOptions {
  /** The plugin's options: `connection` plus any pool option (poolSize, maxOverflow, ...). */
  db: DbSessionPluginOptions
  /** Fastify's `logger` option (default: off). */
  logger?: FastifyServerOptions['logger']
  /** A ready pino instance instead of `logger`. */
  loggerInstance?: FastifyBaseLogger
  /** Create the tables on start when missing (default true). */
  createSchema?: boolean
}

export function buildApp (opts: AppOptions): FastifyInstance {
  const app: FastifyInstance = opts.loggerInstance === undefined
    ? Fastify({ logger: opts.logger ?? false })
    : Fastify({ loggerInstance: opts.loggerInstance }) as unknown as FastifyInstance

  app.register(sensible)
  app.register(dbSession, opts.db)

  if (opts.createSchema !== false) {
    // Runs once the plugins are loaded and before the server listens (or the first inject).
    app.addHook('onReady', async function createTables () {
      await ensureSchema(app.db)
    })
  }

  app.register(healthRoutes)
  app.register(itemRoutes)
  app.register(orderRoutes)
  app.register(catalogRoutes)
  return app
}
