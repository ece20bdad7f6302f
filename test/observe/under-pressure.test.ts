import t from 'tap'
import underPressure from '@fastify/under-pressure'
import { buildApp, listen, request } from '../plugin/_helpers'
import { until } from '../helpers/pool'

t.test('with @fastify/under-pressure, a saturated instance answers 503 before work piles up', async (t) => {
  const { app } = await buildApp(t, {
    plugin: { poolSize: 1, maxOverflow: 0, poolTimeout: 5000 },
    logLevel: false,
    setup: async (app) => {
      // The README's wiring: readiness from app.db.health(), checked every 50 ms.
      await app.register(underPressure, {
        healthCheck: async () => (await app.db.health({ timeout: 500 })).ready,
        healthCheckInterval: 50,
        retryAfter: 1
      })
      app.get('/slow', async (request) => {
        await request.db.query('SELECT SLEEP(0.6)')
        return { ok: true }
      })
      app.get('/ping', async () => ({ ok: true }))
    }
  })
  const url = await listen(app)
  t.equal((await request(`${url}/ping`)).status, 200, 'healthy at first')

  const first = request(`${url}/slow`)
  await until(() => app.db.stats().checkedOut === 1, 3000, 'the connection to be held')
  const second = request(`${url}/slow`)
  await until(() => app.db.stats().waiting === 1, 3000, 'a queued checkout')
  await until(() => app.isUnderPressure(), 2000, 'under-pressure to see the saturated pool')

  const shed = await request(`${url}/slow`)
  t.equal(shed.status, 503, 'new database work is refused at once')
  t.equal(shed.headers['retry-after'], '1')
  t.equal(app.db.stats().waiting, 1, 'it never joined the queue')
  t.equal((await request(`${url}/ping`)).status, 503)

  t.equal((await first).status, 200, 'work accepted before the pressure finishes')
  t.equal((await second).status, 200)
  await until(() => !app.isUnderPressure(), 3000, 'the pressure to lift')
  t.equal((await request(`${url}/ping`)).status, 200, 'serving again')
  t.equal(app.db.stats().timeouts, 0, 'no request waited into a pool timeout')
})
