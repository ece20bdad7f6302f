/**
 * GET /health: a round trip to the database plus the pool's stats and SQLAlchemy status line.
 * The one route on raw `request.db` (mysql2's `query()`), to show it next to Kysely.
 */
import { Type, type FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { DbError } from '../../lib'

const PoolStats = Type.Object({
  size: Type.Integer(),
  checkedIn: Type.Integer(),
  checkedOut: Type.Integer(),
  overflow: Type.Integer(),
  waiting: Type.Integer(),
  // With MYSQL_REPLICA_URL: each replica's state and lag as last measured.
  replicas: Type.Optional(Type.Array(Type.Object({}, { additionalProperties: true }))),
  // With a list of nodes in MYSQL_URL's place: each node's state.
  nodes: Type.Optional(Type.Array(Type.Object({}, { additionalProperties: true })))
}, {
  // The counters (connects, checkouts, timeouts, ...).
  additionalProperties: Type.Integer()
})

const Health = Type.Object({
  status: Type.Union([Type.Literal('ok'), Type.Literal('degraded')]),
  database: Type.Union([Type.Literal('up'), Type.Literal('down')]),
  error: Type.Optional(Type.String()),
  pool: PoolStats,
  poolStatus: Type.String()
})

const healthRoutes: FastifyPluginAsyncTypebox = async function healthRoutes (app) {
  app.get('/health', {
    schema: { response: { 200: Health, 503: Health } }
  }, async (request, reply) => {
    let database: 'up' | 'down' = 'up'
    let errorCode: string | undefined
    try {
      await request.db.query('SELECT 1')
      // Give the connection back now, so the stats below show the pool at rest.
      await request.db.close()
    } catch (err) {
      database = 'down'
      errorCode = err instanceof DbError ? err.code : 'UNKNOWN'
      request.log.warn({ err }, 'Health check: database unreachable')
    }
    reply.code(database === 'up' ? 200 : 503)
    return {
      status: database === 'up' ? 'ok' as const : 'degraded' as const,
      database,
      ...(errorCode === undefined ? {} : { error: errorCode }),
      pool: app.db.stats(),
      poolStatus: app.db.status()
    }
  })
}

export default healthRoutes
