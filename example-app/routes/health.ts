/** GET /health: a round trip to the database plus the pool's stats and SQLAlchemy status line. */
import type { FastifyInstance } from 'fastify'
import { DbError } from '../../lib'

const poolStats = {
  type: 'object',
  required: ['size', 'checkedIn', 'checkedOut', 'overflow', 'waiting'],
  properties: {
    size: { type: 'integer' },
    checkedIn: { type: 'integer' },
    checkedOut: { type: 'integer' },
    overflow: { type: 'integer' },
    waiting: { type: 'integer' },
    // With MYSQL_REPLICA_URL: each replica's state and lag as last measured.
    replicas: {
      type: 'array',
      items: {
        type: 'object',
        properties: { replica: { type: 'string' }, state: { type: 'string' }, lagMs: { type: ['integer', 'null'] }, checkedOut: { type: 'integer' }, waiting: { type: 'integer' } }
      }
    }
  },
  // The counters (connects, checkouts, timeouts, ...).
  additionalProperties: { type: 'integer' }
} as const

const health = {
  type: 'object',
  required: ['status', 'database', 'pool', 'poolStatus'],
  properties: {
    status: { type: 'string', enum: ['ok', 'degraded'] },
    database: { type: 'string', enum: ['up', 'down'] },
    error: { type: 'string' },
    pool: poolStats,
    poolStatus: { type: 'string' }
  }
} as const

export default async function healthRoutes (app: FastifyInstance): Promise<void> {
  app.get('/health', {
    schema: { response: { 200: health, 503: health } }
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
      status: database === 'up' ? 'ok' : 'degraded',
      database,
      ...(errorCode === undefined ? {} : { error: errorCode }),
      pool: app.db.stats(),
      poolStatus: app.db.status()
    }
  })
}
