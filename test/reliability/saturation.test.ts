/**
 * Scenario 6 — saturation: 200 concurrent clients, poolSize 5, maxOverflow 0, SLEEP(0.1) per
 * request, poolTimeout 1000. Waiters get their connection in FIFO order, those past poolTimeout
 * get 503 + Retry-After, nobody waits longer than poolTimeout + slack, and the service recovers
 * at once when the load drops.
 */
import t from 'tap'
import { performance } from 'node:perf_hooks'
import { QueuePool } from '../../lib/pool'
import type { PooledConnection } from '../../lib/pool'
import { createConnectionFactory, databaseUrl } from '../helpers/db'
import { keepAliveAgent, recordResult, runLoad } from '../helpers/http-load'
import { fakeLogger } from '../helpers/pool'
import { startApp } from './support'

t.setTimeout(60_000)

const POOL_TIMEOUT = 1000
const CLIENTS = 200

/** Records the order checkouts were asked for and the order they were granted. */
class OrderedPool extends QueuePool {
  asked = 0
  granted: number[] = []
  override connect (): Promise<PooledConnection> {
    const n = this.asked++
    return super.connect().then((handle) => {
      this.granted.push(n)
      return handle
    })
  }

  /** The session's synchronous path: asked and granted at once when a connection is idle. */
  override connectNow (): PooledConnection | undefined {
    const handle = super.connectNow()
    if (handle !== undefined) this.granted.push(this.asked++)
    return handle
  }
}

t.test(`${CLIENTS} clients against poolSize 5`, async (t) => {
  const pool = new OrderedPool(createConnectionFactory(await databaseUrl()), {
    poolSize: 5, maxOverflow: 0, timeout: POOL_TIMEOUT, logger: fakeLogger(), closeTimeout: 500
  })
  const { url } = await startApp(t, { pool }, (app) => {
    app.get('/slow', async (request) => {
      await request.db.query('SELECT SLEEP(0.1)')
      return { ok: true }
    })
  })
  // Open the 5 connections first so the burst measures queueing, not connecting.
  const warm = keepAliveAgent(5)
  await runLoad(url, { total: 5, concurrency: 5, agent: warm, make: () => ({ kind: 'w', path: '/slow', expect: [200] }) })
  warm.destroy()
  pool.asked = 0
  pool.granted = []

  const agent = keepAliveAgent(CLIENTS)
  const retryAfter: string[] = []
  const burst = await runLoad(url, {
    total: CLIENTS,
    concurrency: CLIENTS,
    agent,
    make: () => ({ kind: 'burst', path: '/slow', expect: [200, 503] }),
    onResult: (_s, res) => { if (res.status === 503) retryAfter.push(String(res.headers['retry-after'])) }
  })
  const ok = burst.byKind.burst.statuses['200'] ?? 0
  const timedOut = burst.byKind.burst.statuses['503'] ?? 0
  t.equal(burst.failures, 0, `only 200 or 503 (${JSON.stringify(burst.byKind.burst.statuses)})`)
  t.ok(ok >= 5 && timedOut >= 1, `some served (${ok}), the rest timed out (${timedOut})`)
  t.ok(retryAfter.every((r) => r === '1'), 'every 503 carries Retry-After: 1')
  t.ok(burst.maxMs < POOL_TIMEOUT + 100 + 700, `nobody waited longer than poolTimeout + query + slack: slowest ${burst.maxMs} ms`)
  const inOrder = pool.granted.every((n, i) => i === 0 || n > pool.granted[i - 1])
  t.ok(inOrder, `connections granted in the order asked (FIFO): ${pool.granted.slice(0, 20).join(',')}…`)
  t.equal(pool.granted.length, ok, 'one grant per served request')
  t.equal(pool.stats().timeouts, timedOut, 'each 503 is a pool timeout')

  // Load drops: the very next requests are served at once.
  const calm = await runLoad(url, { total: 20, concurrency: 1, agent, make: () => ({ kind: 'calm', path: '/slow', expect: [200] }) })
  const recoveredAt = performance.now()
  agent.destroy()
  t.equal(calm.failures, 0, 'recovered at once')
  t.ok(calm.maxMs < 100 + 400, `no queue left behind: slowest ${calm.maxMs} ms`)
  t.same({ waiting: pool.stats().waiting, checkedOut: pool.stats().checkedOut }, { waiting: 0, checkedOut: 0 })
  const figures = {
    requests: burst.requests + calm.requests,
    failures: timedOut,
    served: ok,
    timedOut503: timedOut,
    fifo: inOrder,
    slowestMs: burst.maxMs,
    p50Ms: burst.p50,
    firstRequestAfterBurstMs: calm.p50,
    recovered: recoveredAt > 0,
    leaks: pool.stats().checkedOut,
    pool: pool.stats()
  }
  t.comment(JSON.stringify(figures))
  recordResult('saturation', figures)
})
