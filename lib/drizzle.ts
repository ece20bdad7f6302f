/**
 * `fastify-db-session/drizzle`: a Drizzle MySQL database whose queries run on our sessions.
 *
 *   const db = drizzle(app.db, { schema })
 *
 * Inside a request every query runs on the request's session (the connection `request.db` uses,
 * inside its transaction when the route has one), and `db.transaction()` nests there as a
 * SAVEPOINT. Outside a request each statement (or `transaction()` block) takes a session of its
 * own and closes it afterwards. Relational queries (`db.query.users.findMany()`) need `schema`.
 *
 * This uses Drizzle's own mysql2 driver with a client of ours (see integrations/drizzle-client).
 * A request that fails on a Drizzle query answers as the error of ours inside Drizzle's
 * DrizzleQueryError: no SQL or values in the response, and a lost connection stays a 503.
 * `drizzle-orm` is an optional peer dependency, loaded by this entry point only.
 */
import type { DrizzleConfig } from 'drizzle-orm'
import type { Mode } from 'drizzle-orm/mysql-core'
import type * as DrizzleMysql2 from 'drizzle-orm/mysql2'
import type { MySql2Database, MySql2DrizzleConfig } from 'drizzle-orm/mysql2'
import type { Pool } from 'mysql2/promise'
import { SessionSourceClient } from './integrations/drizzle-client'
import { loadPeer } from './integrations/peer'
import { recognizeWrapper } from './plugin/wrapped-errors'
import { isSessionSource, type SessionSource } from './integrations/session-source'

// `typeof import()` would resolve the ESM declarations (dynamic import) while a CommonJS user's
// `import` of drizzle-orm gets the .d.cts ones: two copies of every type, which don't mix.
type DrizzleMysql2Module = typeof DrizzleMysql2

const peer = loadPeer<DrizzleMysql2Module>('drizzle-orm/mysql2', 'fastify-db-session/drizzle')

// Drizzle wraps every failed query in a DrizzleQueryError whose message is the SQL and its values:
// a request failing on one answers as our error inside it (see plugin/wrapped-errors).
// Drizzle before 0.44 has no such class and leaves our errors unwrapped: nothing to recognise then.
const { DrizzleQueryError } = loadPeer<{ DrizzleQueryError?: unknown }>('drizzle-orm', 'fastify-db-session/drizzle')
if (typeof DrizzleQueryError === 'function') {
  const wrapper = DrizzleQueryError as new (...args: never[]) => Error
  recognizeWrapper((error) => error instanceof wrapper)
}

export type { SessionSource }

/**
 * Drizzle's config. `mode` defaults to 'planetscale': Drizzle's relational queries without LATERAL
 * joins, which MariaDB (and MySQL before 8.0.14) lack; on MySQL 8.0.14+ `mode: 'default'` works too.
 */
export type DrizzleOptions<TSchema extends Record<string, unknown> = Record<string, never>> =
  Omit<DrizzleConfig<TSchema>, 'schema'> & { schema?: TSchema, mode?: Mode }

/**
 * A Drizzle database on `app.db` (or `app.dbs.NAME`): the request's session inside a request, a
 * session per statement outside one. Cheap to create; make one at start-up and share it.
 */
export function drizzle<TSchema extends Record<string, unknown> = Record<string, never>> (
  db: SessionSource,
  config?: DrizzleOptions<TSchema>
): MySql2Database<TSchema> {
  if (!isSessionSource(db)) throw new TypeError('drizzle(db): pass app.db (or app.dbs.NAME), the fastify-db-session facade')
  const client = new SessionSourceClient(db)
  const options = { ...config, mode: config?.mode ?? 'planetscale' } as MySql2DrizzleConfig<TSchema>
  // Drizzle's client type is mysql2's Pool; it uses query, execute and getConnection of it.
  return peer.drizzle<TSchema, Pool>(client as unknown as Pool, options)
}
