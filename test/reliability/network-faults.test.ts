/**
 * Scenario 5 — network faults between the app and the database, through a TCP proxy:
 * black-holed replies (driver deadlines fire, the connection is destroyed, the request gets a
 * 5xx, the pool is healthy afterwards), added latency (slower but successful), and resets in the
 * middle of a packet (errors, then recovery).
 */
import t from 'tap'
import { performance } from 'node:perf_hooks'
import { databaseUrl } from '../helpers/db'
import { keepAliveAgent, recordResult, runLoad, waitFor } from '../helpers/http-load'
import { sleep } from '../helpers/pool'
import { startTcpProxy } from '../helpers/tcp-proxy'
import { startApp } from './support'

t.setTimeout(110_000)

const QUERY_TIMEOUT = 800

async function setup (t: { teardown: (fn: () => unknown) => void }, prePing = true) {
  const base = new URL(await databaseUrl())
  const proxy = await startTcpProxy({ host: base.hostname, port: Number(base.port || 3306) })
  t.teardown(() => proxy.close())
  const { app, url } = await startApp(t, {
    connection: proxy.urlFor(base.toString()),
    poolSize: 4,
    maxOverflow: 0,
    poolTimeout: 3000,
    poolPrePing: prePing,
    poolPrePingBypass: 0,
    poolPingTimeout: 300,
    poolResetTimeout: 300,
    poolConnectTimeout: 500
  }, (app) => {
    app.get('/q', async (request) => {
      await request.db.query({ sql: 'SELECT 1', timeout: QUERY_TIMEOUT })
      return { ok: true }
    })
  })
  return { proxy, app, url }
}

t.test('black-holed replies: deadlines fire, connections destroyed, pool healthy after', async (t) => {
  const { proxy, app, url } = await setup(t)
  const pool = app.db.pool
  const agent = keepAliveAgent(4)
  const warm = await runLoad(url, { total: 40, concurrency: 4, agent, make: () => ({ kind: 'q', path: '/q', expect: [200] }) })
  t.equal(warm.failures, 0, 'warm through the proxy')
  const openBefore = proxy.open

  proxy.setMode('blackhole')
  const holed = await runLoad(url, { total: 12, concurrency: 4, agent, make: () => ({ kind: 'holed', path: '/q', expect: [500, 503] }) })
  t.equal(holed.failures, 0, `every request during the black hole gets a 5xx (${JSON.stringify(holed.byKind.holed.statuses)})`)
  t.ok(holed.maxMs < 3000, `and within the deadlines: slowest ${holed.maxMs} ms`)
  const s = pool.stats()
  t.ok(s.invalidations >= openBefore, `the stalled connections were invalidated (${s.invalidations})`)
  t.equal(s.checkedOut, 0, 'none checked out')

  proxy.setMode('pass')
  const after = await runLoad(url, { total: 100, concurrency: 4, agent, make: () => ({ kind: 'q', path: '/q', expect: [200] }) })
  agent.destroy()
  t.equal(after.failures, 0, `healthy again once the link is back (${JSON.stringify(after.samples)})`)
  // Every stalled connection was destroyed, so only the pool's live ones remain through the proxy.
  t.ok(await waitFor(() => proxy.open <= 4, 3000), `no stalled connection left open (${proxy.open})`)
  const figures = {
    fault: 'blackhole',
    requests: warm.requests + holed.requests + after.requests,
    failures: holed.requests,
    failureStatuses: holed.byKind.holed.statuses,
    slowestFailureMs: holed.maxMs,
    leaks: pool.stats().checkedOut,
    pool: pool.stats()
  }
  t.comment(JSON.stringify(figures))
  recordResult('network-faults', figures)
})

t.test('black-holed replies without pre-ping: the query timeout fires and the connection is destroyed', async (t) => {
  const { proxy, app, url } = await setup(t, false)
  const pool = app.db.pool
  const agent = keepAliveAgent(4)
  const warm = await runLoad(url, { total: 40, concurrency: 4, agent, make: () => ({ kind: 'q', path: '/q', expect: [200] }) })
  proxy.setMode('blackhole')
  const holed = await runLoad(url, { total: 4, concurrency: 4, agent, make: () => ({ kind: 'holed', path: '/q', expect: [500, 503] }) })
  t.equal(holed.failures, 0, `a 5xx for each (${JSON.stringify(holed.byKind.holed.statuses)})`)
  t.ok(holed.maxMs >= QUERY_TIMEOUT - 50 && holed.maxMs < QUERY_TIMEOUT + 2000, `after the query timeout: ${holed.maxMs} ms`)
  t.ok(pool.stats().invalidations >= 4, 'the timed-out connections were destroyed, never reused')
  proxy.setMode('pass')
  const after = await runLoad(url, { total: 100, concurrency: 4, agent, make: () => ({ kind: 'q', path: '/q', expect: [200] }) })
  agent.destroy()
  t.equal(after.failures, 0, 'healthy again')
  t.equal(pool.stats().checkedOut, 0)
  const figures = { fault: 'blackhole, no pre-ping (query timeout)', requests: warm.requests + holed.requests + after.requests, failures: holed.requests, failureStatuses: holed.byKind.holed.statuses, slowestFailureMs: holed.maxMs, leaks: pool.stats().checkedOut, pool: pool.stats() }
  t.comment(JSON.stringify(figures))
  recordResult('network-faults', figures)
})

t.test('latency: slower, still successful', async (t) => {
  const { proxy, app, url } = await setup(t)
  const agent = keepAliveAgent(4)
  const fast = await runLoad(url, { total: 40, concurrency: 4, agent, make: () => ({ kind: 'q', path: '/q', expect: [200] }) })
  proxy.setMode({ latency: 40 })
  const slow = await runLoad(url, { total: 40, concurrency: 4, agent, make: () => ({ kind: 'q', path: '/q', expect: [200] }) })
  agent.destroy()
  t.equal(fast.failures + slow.failures, 0, 'every request succeeds')
  t.ok(slow.p50 >= 80, `a round trip costs >= 80 ms (p50 ${slow.p50} ms vs ${fast.p50} ms without latency)`)
  const figures = { fault: 'latency 40 ms each way', requests: fast.requests + slow.requests, failures: fast.failures + slow.failures, p50Before: fast.p50, p50With: slow.p50, leaks: app.db.stats().checkedOut }
  t.comment(JSON.stringify(figures))
  recordResult('network-faults', figures)
})

t.test('resets mid-packet: errors, then recovery', async (t) => {
  const { proxy, app, url } = await setup(t)
  const pool = app.db.pool
  const agent = keepAliveAgent(4)
  const warm = await runLoad(url, { total: 40, concurrency: 4, agent, make: () => ({ kind: 'q', path: '/q', expect: [200] }) })
  proxy.setMode('reset')
  const broken = await runLoad(url, { total: 12, concurrency: 4, agent, make: () => ({ kind: 'reset', path: '/q', expect: [500, 503] }) })
  t.equal(broken.failures, 0, `every request while links reset gets a 5xx (${JSON.stringify(broken.byKind.reset.statuses)})`)
  t.ok(broken.maxMs < 3000, `quickly: slowest ${broken.maxMs} ms`)
  t.ok(proxy.resets >= 1, `the proxy reset ${proxy.resets} connections`)
  proxy.setMode('pass')
  const healedAt = performance.now()
  let firstOk = 0
  while (firstOk === 0 && performance.now() - healedAt < 5000) {
    const r = await runLoad(url, { total: 1, concurrency: 1, agent, make: () => ({ kind: 'q', path: '/q', expect: [200] }) })
    if (r.failures === 0) firstOk = performance.now()
    else await sleep(10)
  }
  const after = await runLoad(url, { total: 100, concurrency: 4, agent, make: () => ({ kind: 'q', path: '/q', expect: [200] }) })
  agent.destroy()
  t.ok(firstOk > 0, 'recovered')
  t.equal(after.failures, 0, 'all succeed after recovery')
  t.equal(pool.stats().checkedOut, 0)
  const figures = {
    fault: 'reset mid-packet',
    requests: warm.requests + broken.requests + after.requests,
    failures: broken.failures === 0 ? broken.requests : broken.failures,
    failureStatuses: broken.byKind.reset.statuses,
    proxyResets: proxy.resets,
    recoveryMs: Math.round(firstOk - healedAt),
    leaks: pool.stats().checkedOut,
    pool: pool.stats()
  }
  t.comment(JSON.stringify(figures))
  recordResult('network-faults', figures)
})
