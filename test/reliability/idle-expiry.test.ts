/**
 * Scenario 3 — the server drops idle connections (wait_timeout = 2 s on a private server) while
 * the pool sits idle 3 s. With poolRecycle below wait_timeout, or with poolPrePing, no request
 * fails afterwards. With neither, the figure shows what the first requests after idle get.
 */
import t from 'tap'
import mysql from 'mysql2/promise'
import { startPrivateServer } from '../helpers/db'
import { keepAliveAgent, recordResult, runLoad } from '../helpers/http-load'
import { sleep } from '../helpers/pool'
import type { DbSessionPluginOptions } from '../../lib/options'
import { startApp } from './support'

t.setTimeout(110_000)

const WARM = 4
const AFTER_IDLE = 20

t.test('idle connections expired by the server', async (t) => {
  const server = await startPrivateServer()
  t.teardown(() => server.remove())
  const root = await mysql.createConnection(server.url)
  await root.query('SET GLOBAL wait_timeout = 2')
  await root.end()

  const variants: Array<[string, DbSessionPluginOptions]> = [
    ['poolRecycle 1000', { poolRecycle: 1000 }],
    ['poolPrePing', { poolPrePing: true }],
    ['neither', {}]
  ]
  // Baseline: what a bare mysql2 connection (no pool) gets after the same idle time.
  const bare = await mysql.createConnection(server.url)
  bare.on('error', () => {})
  const bareIdle = (async () => {
    await sleep(3000)
    try {
      await bare.query('SELECT 1')
      return 'ok'
    } catch (err) {
      return String((err as { code?: unknown }).code ?? err)
    } finally {
      bare.destroy()
    }
  })()
  // All three apps sit idle at the same time, so the file pays the 3 s only once.
  const results = await Promise.all(variants.map(async ([name, extra]) => {
    const { app, url } = await startApp(t, { connection: server.url, poolSize: WARM, maxOverflow: 0, ...extra }, (app) => {
      app.get('/q', async (request) => {
        const [rows] = await request.db.query<mysql.RowDataPacket[]>('SELECT @@wait_timeout AS w')
        return rows[0]
      })
    })
    const agent = keepAliveAgent(WARM)
    const warm = await runLoad(url, { total: 40, concurrency: WARM, agent, make: () => ({ kind: 'warm', path: '/q', expect: [200] }) })
    const warmConnects = app.db.stats().connects
    await sleep(3000)
    const after = await runLoad(url, { total: AFTER_IDLE, concurrency: WARM, agent, make: () => ({ kind: 'after', path: '/q', expect: [200] }) })
    agent.destroy()
    return { name, warm, after, warmConnects, stats: app.db.stats(), firstStatuses: after.byKind.after.statuses }
  }))

  const bareResult = await bareIdle
  t.not(bareResult, 'ok', `a bare connection idle past wait_timeout fails: ${bareResult}`)
  recordResult('idle-expiry', { variant: 'bare mysql2 connection, no pool', requests: 1, failures: bareResult === 'ok' ? 0 : 1, error: bareResult })
  for (const r of results) {
    t.equal(r.warm.failures, 0, `${r.name}: warm-up succeeds`)
    if (r.name.startsWith('poolRecycle')) {
      // A warm-up slower than the recycle age (a loaded machine) legitimately recycles some.
      t.ok(r.warmConnects >= WARM, `${r.name}: at least ${WARM} connections opened while warm (${r.warmConnects})`)
    } else {
      t.equal(r.warmConnects, WARM, `${r.name}: ${WARM} connections opened while warm`)
    }
    if (r.name !== 'neither') {
      t.equal(r.after.failures, 0, `${r.name}: zero failed requests after 3 s idle (${JSON.stringify(r.after.samples)})`)
    } else {
      t.comment(`neither: ${r.after.failures} of the first ${AFTER_IDLE} requests after idle failed; ` +
        `${r.stats.invalidations} dead idle connections were noticed and dropped by the pool before checkout`)
    }
    t.ok(r.stats.connects > r.warmConnects, `${r.name}: the expired connections were replaced (connects ${r.stats.connects})`)
    t.equal(r.stats.checkedOut, 0, `${r.name}: nothing checked out`)
    const figures = {
      variant: r.name,
      requests: r.warm.requests + r.after.requests,
      failures: r.after.failures,
      failuresAfterIdle: r.after.failures,
      statusesAfterIdle: r.firstStatuses,
      leaks: r.stats.checkedOut,
      pool: r.stats
    }
    t.comment(JSON.stringify(figures))
    recordResult('idle-expiry', figures)
  }
})
