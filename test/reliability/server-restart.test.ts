/**
 * Scenario 4 — the database goes down and comes back (private server). While it is down requests
 * fail fast with 503 (connect is refused: far below poolTimeout) and the pool does not busy-loop
 * (connect attempts only happen for requests; none over an idle second). When it is back the
 * service recovers with no manual action; the recovery time is recorded.
 */
import t from 'tap'
import { performance } from 'node:perf_hooks'
import { startPrivateServer } from '../helpers/db'
import { keepAliveAgent, recordResult, runLoad, send } from '../helpers/http-load'
import { sleep } from '../helpers/pool'
import { startApp } from './support'

t.setTimeout(110_000)

const POOL_TIMEOUT = 5000

t.test('server stopped, then started again', async (t) => {
  const server = await startPrivateServer()
  t.teardown(() => server.remove())
  const { app, url } = await startApp(t, { connection: server.url, poolSize: 4, maxOverflow: 4, poolTimeout: POOL_TIMEOUT, poolPrePing: true }, (app) => {
    app.get('/q', async (request) => {
      await request.db.query('SELECT 1')
      return { ok: true }
    })
  })
  const pool = app.db.pool
  const agent = keepAliveAgent(8)
  const warm = await runLoad(url, { total: 200, concurrency: 8, agent, make: () => ({ kind: 'q', path: '/q', expect: [200] }) })
  t.equal(warm.failures, 0, 'warm-up succeeds')

  await server.stop()
  const before = pool.stats()
  const DOWN_REQUESTS = 50
  const down = await runLoad(url, { total: DOWN_REQUESTS, concurrency: 4, agent, make: () => ({ kind: 'down', path: '/q', expect: [503] }) })
  t.equal(down.failures, 0, `every request while down answers 503 (${JSON.stringify(down.samples)})`)
  t.ok(down.maxMs < POOL_TIMEOUT / 5, `fails fast: slowest ${down.maxMs} ms, poolTimeout ${POOL_TIMEOUT} ms`)
  const r = await send(url, agent, { path: '/q' })
  t.equal(r.headers['retry-after'], '1', 'a 503 with Retry-After')
  t.match(JSON.parse(r.body), { code: 'FST_DB_UNAVAILABLE' })
  const afterDown = pool.stats()
  const attempts = afterDown.connectErrors - before.connectErrors
  t.ok(attempts >= 1 && attempts <= DOWN_REQUESTS + 1, `connect attempts ${attempts} grow only with requests (${DOWN_REQUESTS + 1})`)

  // Idle second: no background reconnect loop, no CPU burnt.
  const cpu = process.cpuUsage()
  const t0 = performance.now()
  await sleep(1000)
  const used = process.cpuUsage(cpu)
  const cpuMs = (used.user + used.system) / 1000
  const idleMs = performance.now() - t0
  const idle = pool.stats()
  t.equal(idle.connectErrors + idle.connects, afterDown.connectErrors + afterDown.connects, 'no connect attempt over an idle second')
  // A reconnect busy loop would burn about the whole second; half allows for GC and the test
  // runner's own work (coverage instrumentation) on a shared machine.
  t.ok(cpuMs < idleMs / 2, `CPU over the idle second: ${cpuMs.toFixed(1)} ms of ${idleMs.toFixed(0)} ms (a busy loop would use ~all)`)
  t.equal(idle.checkedOut, 0)

  // Back up: poll every 20 ms from the moment start() is called.
  const startCalled = performance.now()
  let firstSuccess = 0
  let failedWhileStarting = 0
  const poll = { on: true }
  const poller = (async () => {
    while (poll.on) {
      const res = await send(url, agent, { path: '/q' })
      if (res.status === 200) {
        firstSuccess = performance.now()
        return
      }
      failedWhileStarting++
      await sleep(20)
    }
  })()
  await server.start()
  const ready = performance.now()
  await Promise.race([poller, sleep(10_000)])
  poll.on = false
  t.ok(firstSuccess > 0, 'service recovered without manual action')
  const after = await runLoad(url, { total: 200, concurrency: 8, agent, make: () => ({ kind: 'q', path: '/q', expect: [200] }) })
  agent.destroy()
  t.equal(after.failures, 0, 'every request after recovery succeeds')
  t.equal(pool.stats().checkedOut, 0)
  const figures = {
    requests: warm.requests + down.requests + 1 + failedWhileStarting + 1 + after.requests,
    failures: down.requests + 1 + failedWhileStarting,
    leaks: pool.stats().checkedOut,
    downSlowestMs: down.maxMs,
    downP50Ms: down.p50,
    connectAttemptsWhileDown: attempts,
    connectAttemptsIdleSecond: idle.connectErrors + idle.connects - afterDown.connectErrors - afterDown.connects,
    cpuMsIdleSecond: Math.round(cpuMs),
    serverStartMs: Math.round(ready - startCalled),
    recoveryMsFromStart: Math.round(firstSuccess - startCalled),
    recoveryMsFromReady: Math.round(firstSuccess - ready),
    pool: pool.stats()
  }
  t.comment(JSON.stringify(figures))
  recordResult('server-restart', figures)
})
