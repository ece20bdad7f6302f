/**
 * `app.kysely`: one Kysely instance for the whole app. It holds no connection of its own: inside
 * a request its queries run on the request's session (the same connection as `request.db`, inside
 * the route's transaction), outside a request each statement checks a connection out and back.
 */
import fp from 'fastify-plugin'
import type { Kysely } from 'kysely'
import { kysely } from '../../lib/kysely'
import type { Database } from '../tables'

declare module 'fastify' {
  interface FastifyInstance {
    /** Typed queries on the app's database; see plugins/kysely.ts. */
    kysely: Kysely<Database>
  }
}

export default fp(async function kyselyPlugin (app) {
  app.decorate('kysely', kysely<Database>(app.db))
}, { name: 'kysely', dependencies: ['fastify-db-session'] })
