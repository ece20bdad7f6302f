/**
 * Real HTTP traffic for the metrics tests: a pool of one connection, a slow route that holds it,
 * a fast one, and a checkout that times out while the slow one runs.
 */
import type { FastifyInstance } from 'fastify'
import type { DbSessionPluginOptions } from '../../lib'
import { buildApp, listen, request, type HttpResult } from '../plugin/_helpers'
import { until } from '../helpers/pool'

interface Teardown { teardown: (fn: () => unknown) => void }

export async function trafficApp (t: Teardown, plugin: DbSessionPluginOptions): Promise<{ app: FastifyInstance, url: string }> {
  const { app } = await buildApp(t, {
    plugin: { poolSize: 1, maxOverflow: 0, poolTimeout: 150, ...plugin },
    logLevel: false,
    setup: (app) => {
      app.get('/slow', async (request) => {
        await request.db.query('SELECT SLEEP(0.4)')
        return { ok: true }
      })
      app.get('/fast', async (request) => {
        await request.db.query('SELECT 1')
        return { ok: true }
      })
    }
  })
  return { app, url: await listen(app) }
}

export interface TrafficResult {
  /** Statuses of: slow, the timed-out fast one, then the fast ones after. */
  statuses: number[]
  /** Successful checkouts (one per request that got a connection). */
  checkouts: number
}

/**
 * slow holds the only connection; a fast request waits and times out (503); `whileWaiting` runs
 * while it is queued; then `fastAfter` fast requests run one after another.
 */
export async function runTraffic (app: FastifyInstance, url: string, whileWaiting: () => Promise<void>, fastAfter = 3): Promise<TrafficResult> {
  const slow = request(`${url}/slow`)
  await until(() => app.db.stats().checkedOut === 1, 3000, 'slow to hold the connection')
  const timedOut = request(`${url}/fast`)
  await until(() => app.db.stats().waiting === 1, 3000, 'fast to queue')
  await whileWaiting()
  const results: HttpResult[] = [await slow, await timedOut]
  for (let i = 0; i < fastAfter; i++) results.push(await request(`${url}/fast`))
  return { statuses: results.map((r) => r.status), checkouts: 1 + fastAfter }
}
