/**
 * GET /health/ready: readiness for a load balancer or Kubernetes (`app.db.health()`): 200 when a
 * connection answered within a second and the pool is not saturated, else 503 with Retry-After.
 * GET /metrics: the pool's metrics in Prometheus text format, from a registry of this app's own
 * (with the plugin alone, `prometheus: true` puts them on prom-client's default registry).
 */
import type { FastifyInstance } from 'fastify'
import { Registry } from 'prom-client'
import { instrumentPool } from '../../lib'

const report = {
  type: 'object',
  required: ['ready', 'status', 'saturated', 'latencyMs', 'pool'],
  properties: {
    ready: { type: 'boolean' },
    status: { type: 'string', enum: ['ok', 'saturated', 'unavailable', 'timeout', 'closed'] },
    saturated: { type: 'boolean' },
    latencyMs: { type: 'number' },
    error: { type: 'string' },
    errorCause: { type: 'string' },
    pool: { type: 'object', additionalProperties: { type: 'integer' } },
    replicas: { type: 'array', items: { type: 'object', additionalProperties: true } }
  }
} as const

export default async function observabilityRoutes (app: FastifyInstance): Promise<void> {
  const registry = new Registry()
  const metrics = instrumentPool(app.db.pool, { openTelemetry: false, prometheus: registry })
  app.addHook('onClose', async function stopMetrics () {
    metrics.close()
  })

  app.get('/health/ready', { schema: { response: { 200: report, 503: report } } }, async (_request, reply) => {
    const health = await app.db.health({ timeout: 1000 })
    if (!health.ready) reply.code(503).header('retry-after', '1')
    return health
  })

  app.get('/metrics', async (_request, reply) => {
    reply.type(registry.contentType)
    return await registry.metrics()
  })
}
