import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { performance } from 'node:perf_hooks'
import t from 'tap'
import { QueuePool } from '../../lib'
import { checkHealth } from '../../lib/observe/health'
import { startPrivateServer } from '../helpers/private-server'
import { realPool, sleep, until } from '../helpers/pool'
import { buildApp } from '../plugin/_helpers'

async function timed<T> (work: Promise<T>): Promise<[T, number]> {
  const started = performance.now()
  const result = await work
  return [result, performance.now() - started]
}

t.test('a healthy pool is ready; the check leaves nothing checked out', async (t) => {
  const { app } = await buildApp(t, { logLevel: false })
  const report = await app.db.health()
  t.equal(report.ready, true)
  t.equal(report.status, 'ok')
  t.equal(report.saturated, false)
  t.ok(report.latencyMs > 0 && report.latencyMs < 2000, `latency ${report.latencyMs} ms`)
  t.equal(report.error, undefined)
  t.equal(report.pool.checkedOut, 0)
  t.equal(report.pool.checkedIn, 1)
  t.equal(report.replicas, undefined, 'no replicas, no field')
})

t.test('a saturated pool is not ready, at once, without queueing one more checkout', async (t) => {
  const { app } = await buildApp(t, { plugin: { poolSize: 1, maxOverflow: 0, poolTimeout: 5000 }, logLevel: false })
  const holder = app.db.session()
  await holder.query('SELECT 1')
  const queued = app.db.query('SELECT 1')
  await until(() => app.db.stats().waiting === 1, 2000, 'a waiter')
  const [report, ms] = await timed(app.db.health())
  t.equal(report.ready, false)
  t.equal(report.status, 'saturated')
  t.equal(report.saturated, true)
  t.ok(ms < 100, `answered in ${ms} ms`)
  t.equal(report.pool.waiting, 1, 'the check did not join the queue')

  // Tolerating one waiter, the check itself has to queue: it gives up at its deadline and leaves the queue.
  const [tolerant, ms2] = await timed(app.db.health({ maxWaiting: 1, timeout: 200 }))
  t.equal(tolerant.status, 'timeout')
  t.equal(tolerant.error, 'timeout')
  t.ok(ms2 >= 195 && ms2 < 1200, `gave up after ${ms2} ms (deadline 200, slack for a loaded machine)`)
  t.equal(app.db.stats().waiting, 1, 'the abandoned check left the queue')
  t.equal(app.db.stats().timeouts, 0, 'a health check is not a pool timeout')

  await holder.close()
  await queued
  t.equal((await app.db.health()).ready, true, 'ready again once the queue drained')
})

t.test('a stopped server: not ready, within the deadline; a hung one: not ready at the deadline', async (t) => {
  const server = await startPrivateServer()
  t.teardown(() => server.remove())
  const { app } = await buildApp(t, { plugin: { connection: server.url, poolConnectTimeout: 10_000 }, logLevel: false })
  t.equal((await app.db.health()).ready, true, 'up')

  await server.stop()
  const [down, ms] = await timed(app.db.health({ timeout: 1500 }))
  t.equal(down.ready, false)
  t.equal(down.status, 'unavailable')
  t.equal(down.error, 'FST_DB_UNAVAILABLE')
  t.equal(down.errorCause, 'ECONNREFUSED')
  t.ok(ms < 1500, `answered in ${ms} ms, inside the 1500 ms deadline`)
  t.notMatch(JSON.stringify(down), /root|password|127\.0\.0\.1/, 'no connection details in the report')

  await server.start()
  t.equal((await app.db.health({ timeout: 5000 })).ready, true, 'ready after the server came back')

  // SIGSTOP: the port still accepts, nothing answers. The connect would wait its 10 s connectTimeout.
  const pid = Number(readFileSync(join(server.dir, 'mysqld.pid'), 'utf8').trim())
  await app.db.pool.dispose() // no idle connection: the check must open one
  process.kill(pid, 'SIGSTOP')
  let resumed = false
  const resume = (): void => {
    if (resumed) return
    resumed = true
    process.kill(pid, 'SIGCONT')
  }
  t.teardown(resume)
  const [hung, ms2] = await timed(app.db.health({ timeout: 400 }))
  resume()
  t.equal(hung.ready, false)
  t.equal(hung.status, 'timeout')
  t.ok(ms2 >= 395 && ms2 < 1400, `answered at the deadline (${ms2} ms; deadline 400, the connect alone would wait 10 s)`)
  await until(() => app.db.stats().checkedOut === 0, 5000, 'nothing held after the hung check')
  t.equal(app.db.stats().checkedOut, 0)
})

t.test('a closed pool is not ready', async (t) => {
  const { app } = await buildApp(t, { logLevel: false })
  const db = app.db
  await app.close()
  const report = await db.health()
  t.equal(report.ready, false)
  t.equal(report.status, 'closed')
})

t.test('replicas are reported when the stats have them', async (t) => {
  const pool = await realPool(t, QueuePool)
  const replicas = [{ size: 5, checkedIn: 1, checkedOut: 0, lagMs: 12 }]
  const report = await checkHealth(pool, () => ({ ...pool.stats(), replicas }))
  t.equal(report.ready, true)
  t.same(report.replicas, replicas)
  t.equal((report.pool as unknown as Record<string, unknown>).replicas, undefined, 'not repeated inside pool')
})

t.test('bad options fail clearly', async (t) => {
  const { app } = await buildApp(t, { logLevel: false })
  await t.rejects(app.db.health({ timeout: 0 }), { code: 'FST_DB_INVALID_OPTION', message: /health\.timeout/ })
  await t.rejects(app.db.health({ maxWaiting: -1 }), { code: 'FST_DB_INVALID_OPTION', message: /health\.maxWaiting/ })
  await sleep(0)
})
