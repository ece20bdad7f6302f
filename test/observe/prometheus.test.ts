import t from 'tap'
import { Registry, register as defaultRegistry } from 'prom-client'
import { dbSession, instrumentPool, PROMETHEUS_METRICS, QueuePool } from '../../lib'
import { databaseUrl } from '../helpers/db'
import { poolChannels } from '../../lib/observe/channels'
import { buildApp } from '../plugin/_helpers'
import { realPool } from '../helpers/pool'
import { runTraffic, trafficApp } from './_traffic'

/** `name{labels} value` lines of the exposition text, as a map. */
async function scrape (registry: Registry): Promise<Map<string, number>> {
  const text = await registry.metrics()
  const out = new Map<string, number>()
  for (const line of text.split('\n')) {
    if (line === '' || line.startsWith('#')) continue
    const at = line.lastIndexOf(' ')
    out.set(line.slice(0, at), Number(line.slice(at + 1)))
  }
  return out
}

t.test('prometheus: registry — the same metrics, Prometheus-style, under real traffic with a timeout', async (t) => {
  const registry = new Registry()
  const { app, url } = await trafficApp(t, { poolName: 'main', prometheus: registry, openTelemetry: false })
  let during = new Map<string, number>()
  const traffic = await runTraffic(app, url, async () => { during = await scrape(registry) })
  t.same(traffic.statuses, [200, 503, 200, 200, 200])
  t.equal(during.get('db_client_connection_pending_requests{pool_name="main"}'), 1)
  t.equal(during.get('db_client_connection_count{pool_name="main",state="used"}'), 1)

  const m = await scrape(registry)
  t.equal(m.get('db_client_connection_count{pool_name="main",state="idle"}'), 1)
  t.equal(m.get('db_client_connection_count{pool_name="main",state="used"}'), 0)
  t.equal(m.get('db_client_connection_max{pool_name="main"}'), 1)
  t.equal(m.get('db_client_connection_idle_max{pool_name="main"}'), 1)
  t.equal(m.get('db_client_connection_pending_requests{pool_name="main"}'), 0)
  t.equal(m.get('db_client_connection_timeouts_total{pool_name="main"}'), 1)
  t.equal(m.get('db_client_connection_create_time_seconds_count{pool_name="main"}'), 1)
  t.equal(m.get('db_client_connection_wait_time_seconds_count{pool_name="main"}'), traffic.checkouts)
  t.equal(m.get('db_client_connection_use_time_seconds_count{pool_name="main"}'), traffic.checkouts)
  t.ok((m.get('db_client_connection_use_time_seconds_sum{pool_name="main"}') ?? 0) >= 0.39, 'seconds')
  t.equal(m.get('db_client_connection_use_time_seconds_bucket{le="+Inf",pool_name="main"}'), traffic.checkouts)
  const text = await registry.metrics()
  for (const name of Object.values(PROMETHEUS_METRICS)) t.match(text, `# TYPE ${name}`, name)

  await app.close()
  t.equal(await registry.metrics(), '\n', 'the last pool leaving takes its metrics off the registry')
  t.equal(poolChannels.checkout.hasSubscribers, false)
})

t.test('two pools on one registry; one leaves, the other stays', async (t) => {
  const registry = new Registry()
  const a = await buildApp(t, { plugin: { poolName: 'a', prometheus: registry, openTelemetry: false }, logLevel: false })
  const b = await buildApp(t, { plugin: { poolName: 'b', prometheus: registry, openTelemetry: false }, logLevel: false })
  await a.app.db.query('SELECT 1')
  await b.app.db.query('SELECT 1')
  let m = await scrape(registry)
  t.equal(m.get('db_client_connection_wait_time_seconds_count{pool_name="a"}'), 1)
  t.equal(m.get('db_client_connection_wait_time_seconds_count{pool_name="b"}'), 1)
  t.equal(m.get('db_client_connection_timeouts_total{pool_name="a"}'), 0, 'the counter exists from the start')
  await t.rejects(buildApp(t, { plugin: { poolName: 'a', prometheus: registry, openTelemetry: false }, logLevel: false }),
    { code: 'FST_DB_INVALID_OPTION', message: /poolName: a pool named "a" is already/ })
  await a.app.close()
  m = await scrape(registry)
  t.equal(m.get('db_client_connection_wait_time_seconds_count{pool_name="a"}'), undefined)
  t.equal(m.get('db_client_connection_count{pool_name="a",state="idle"}'), undefined)
  t.equal(m.get('db_client_connection_wait_time_seconds_count{pool_name="b"}'), 1)
  await b.app.db.query('SELECT 1')
  m = await scrape(registry)
  t.equal(m.get('db_client_connection_wait_time_seconds_count{pool_name="b"}'), 2)
})

t.test('a named registration reports under its name by default', async (t) => {
  const registry = new Registry()
  const { app } = await buildApp(t, {
    plugin: { prometheus: registry, openTelemetry: false },
    logLevel: false,
    setup: async (app) => {
      await app.register(dbSession, { name: 'reports', connection: await databaseUrl(), prometheus: registry, openTelemetry: false })
    }
  })
  await app.dbs.reports.query('SELECT 1')
  const m = await scrape(registry)
  t.equal(m.get('db_client_connection_wait_time_seconds_count{pool_name="reports"}'), 1)
  t.equal([...m.keys()].filter((k) => k.startsWith('db_client_connection_max{')).length, 2, 'the unnamed one and reports')
})

t.test('prometheus: true uses the default registry, and an app can be built again', async (t) => {
  for (let i = 0; i < 2; i++) {
    const { app } = await buildApp(t, { plugin: { poolName: 'default-reg', prometheus: true, openTelemetry: false }, logLevel: false })
    await app.db.query('SELECT 1')
    const m = await scrape(defaultRegistry)
    t.equal(m.get('db_client_connection_wait_time_seconds_count{pool_name="default-reg"}'), 1, `build ${i + 1}`)
    await app.close()
  }
})

t.test('bad option values fail at register, naming the option', async (t) => {
  const bad: Array<[string, Record<string, unknown>]> = [
    ['poolName', { poolName: '' }],
    ['poolName', { poolName: 42 }],
    ['openTelemetry', { openTelemetry: 'yes' }],
    ['openTelemetry', { openTelemetry: { meterProvider: {} } }],
    ['prometheus', { prometheus: {} }],
    ['prometheus', { prometheus: null }]
  ]
  for (const [option, plugin] of bad) {
    await t.rejects(buildApp(t, { plugin: plugin as never, logLevel: false }), { code: 'FST_DB_INVALID_OPTION', option, message: new RegExp(`Invalid option ${option}`) }, option)
  }
})

t.test('instrumentPool with both recorders', async (t) => {
  const registry = new Registry()
  const pool = await realPool(t, QueuePool, { poolSize: 2, maxOverflow: 1 })
  const inst = instrumentPool(pool, { poolName: 'jobs', openTelemetry: false, prometheus: registry })
  const h = await pool.connect()
  await h.close()
  const m = await scrape(registry)
  t.equal(m.get('db_client_connection_max{pool_name="jobs"}'), 3)
  t.equal(m.get('db_client_connection_use_time_seconds_count{pool_name="jobs"}'), 1)
  inst.close()
  t.equal(await registry.metrics(), '\n')
})
