/**
 * The example service: items and orders over MariaDB/MySQL with one database session per request,
 * laid out as a Fastify service: `plugins/` (app-wide decorators and hooks) and `routes/` (one
 * file per resource), both loaded by @fastify/autoload, TypeBox schemas as the handlers' types.
 * `buildApp()` returns the Fastify instance without listening, so tests drive it with `inject`.
 *
 * In your own project the imports read `from 'fastify-db-session'`; this example lives inside
 * the package, so it imports the sources.
 */
import { join } from 'node:path'
import autoload from '@fastify/autoload'
import sensible from '@fastify/sensible'
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox'
import Fastify, { type FastifyBaseLogger, type FastifyInstance, type FastifyServerOptions } from 'fastify'
import { dbSession, type DbSessionPluginOptions } from '../lib'

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

const routesDir = join(__dirname, 'routes')

/**
 * A route file may also be registered by hand in buildApp(); autoload then leaves it out, so
 * that its routes are not declared twice. Such a file is one this module imports.
 */
function registeredByHand (relativePath: string): boolean {
  const file = join(routesDir, relativePath)
  return module.children.some((child) => child.filename === file)
}

export function buildApp (opts: AppOptions): FastifyInstance {
  const app = (opts.loggerInstance === undefined
    ? Fastify({ logger: opts.logger ?? false })
    : Fastify({ loggerInstance: opts.loggerInstance })
  ).withTypeProvider<TypeBoxTypeProvider>()

  app.register(sensible)
  app.register(dbSession, opts.db)
  // plugins/: app.kysely, table creation. Each gets these options.
  app.register(autoload, { dir: join(__dirname, 'plugins'), options: { createSchema: opts.createSchema } })
  // routes/: every file is a Fastify plugin declaring the routes of one resource.
  app.register(autoload, { dir: routesDir, ignoreFilter: registeredByHand })
  return app as unknown as FastifyInstance
}
