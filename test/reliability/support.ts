/**
 * Shared bits of the reliability tests (not a test file itself): an app with the plugin listening
 * on a real port, closed in teardown.
 */
import Fastify, { type FastifyInstance, type FastifyServerOptions } from 'fastify'
import sensible from '@fastify/sensible'
import { dbSession } from '../../lib/plugin/plugin'
import type { DbSessionPluginOptions } from '../../lib/options'

interface Teardown { teardown: (fn: () => unknown) => void }

export async function startApp (
  t: Teardown,
  options: DbSessionPluginOptions,
  routes: (app: FastifyInstance) => void,
  server: FastifyServerOptions = {}
): Promise<{ app: FastifyInstance, url: string }> {
  const app = Fastify({ logger: false, forceCloseConnections: true, ...server })
  await app.register(sensible)
  await app.register(dbSession, { logPoolStats: false, ...options })
  routes(app)
  const url = await app.listen({ port: 0, host: '127.0.0.1' })
  t.teardown(() => app.close())
  return { app, url }
}

export const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b)
  return s.length === 0 ? 0 : s[Math.floor(s.length / 2)]
}
