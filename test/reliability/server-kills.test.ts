/**
 * Scenario 2 — the server kills every pooled connection mid-load (KILL from an admin connection).
 * With poolPrePing no request fails; without it, at most the requests in flight at that moment
 * fail, and after that all succeed (pool-wide invalidation replaces the other dead connections).
 */
import t from 'tap'
import { performance } from 'node:perf_hooks'
import { databaseUrl, killThread } from '../helpers/db'
import { createDbUser, dropDbUser, keepAliveAgent, recordResult, runLoad, userThreads, waitFor, type Response } from '../helpers/http-load'
import { admin } from '../helpers/pool'
import { startApp } from './support'

const CONCURRENCY = 16
const REQUESTS = 1500

t.setTimeout(110_000)

for (const prePing of [true, false]) {
  t.test(`KILL every pooled connection mid-load, poolPrePing ${prePing}`, async (t) => {
    const user = `fdbs_rel_kill_${prePing ? 'pp' : 'np'}`
    const a = await admin(t)
    const url = await createDbUser(a, await databaseUrl(), user, 'Kill-pw-31f0')
    t.teardown(() => dropDbUser(a, user))
    // The gate lets the prePing run kill while every connection is idle in the pool yet requests
    // are in flight (queued at the gate): exactly what pre-ping promises to absorb.
    let gate: Promise<void> | null = null
    const { app, url: base } = await startApp(t, { connection: url, poolSize: 8, maxOverflow: 8, poolPrePing: prePing, poolPrePingBypass: 0 }, (app) => {
      app.get('/q', async (request) => {
        if (gate !== null) await gate
        await request.db.query('SELECT SLEEP(0.005)')
        return { ok: true }
      })
    })
    const pool = app.db.pool
    let killedAt = Infinity
    let inFlightAtKill = 0
    let inFlight = 0
    let killed = 0
    const failures: Response[] = []
    const agent = keepAliveAgent(CONCURRENCY)
    const kill = async (): Promise<void> => {
      const ids = (await userThreads(a, user)).map((th) => th.id)
      for (const id of ids) await killThread(a, id)
      killed = ids.length
      killedAt = performance.now()
    }
    const load = runLoad(base, {
      total: REQUESTS,
      concurrency: CONCURRENCY,
      agent,
      make: () => { inFlight++; return { kind: 'q', path: '/q', expect: [200] } },
      onResult: (_spec, res) => { inFlight--; if (res.status !== 200) failures.push(res) }
    })
    await waitFor(() => pool.stats().checkouts >= REQUESTS / 3, 30_000)
    if (prePing) {
      let open!: () => void
      gate = new Promise((resolve) => { open = resolve })
      await waitFor(() => pool.stats().checkedOut === 0, 5000)
      inFlightAtKill = inFlight
      await kill()
      gate = null
      open()
    } else {
      inFlightAtKill = inFlight
      await kill()
    }
    const summary = await load
    agent.destroy()
    const lastFailure = failures.reduce((m, f) => Math.max(m, f.startedAt), -Infinity)
    const failedAfter = failures.filter((f) => f.startedAt > killedAt + 100).length
    t.ok(killed >= 1, `killed ${killed} pooled connections`)
    if (prePing) {
      t.equal(summary.failures, 0, `with pre-ping no request fails (${JSON.stringify(summary.samples)})`)
    } else {
      t.ok(summary.failures <= inFlightAtKill, `failures ${summary.failures} <= requests in flight at the kill ${inFlightAtKill}`)
      t.equal(failedAfter, 0, 'every request started after the kill (+100 ms) succeeded')
      for (const f of failures) t.equal(f.status, 503, 'a lost connection answers 503')
    }
    t.equal(pool.stats().checkedOut, 0)
    const figures = {
      prePing,
      requests: summary.requests,
      failures: summary.failures,
      leaks: pool.stats().checkedOut,
      killedConnections: killed,
      inFlightAtKill,
      failedMoreThan100msAfterKill: failedAfter,
      recoveryMs: failures.length === 0 ? 0 : Math.max(0, Math.round(lastFailure - killedAt)),
      pool: pool.stats()
    }
    t.comment(JSON.stringify(figures))
    recordResult('server-kills', figures)
  })
}
