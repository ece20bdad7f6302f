import t from 'tap'
import { metrics } from '@opentelemetry/api'
import {
  AggregationTemporality, InMemoryMetricExporter, MeterProvider, PeriodicExportingMetricReader,
  type DataPoint, type Histogram, type MetricData
} from '@opentelemetry/sdk-metrics'
import { instrumentPool, NullPool, QueuePool, StaticPool } from '../../lib'
import { poolChannels } from '../../lib/observe/channels'
import { databaseUrl } from '../helpers/db'
import { realPool } from '../helpers/pool'
import { buildApp } from '../plugin/_helpers'
import { runTraffic, trafficApp } from './_traffic'

const POOL = 'db.client.connection.pool.name'

function sdk (): { provider: MeterProvider, collect: () => Promise<MetricData[]> } {
  const exporter = new InMemoryMetricExporter(AggregationTemporality.CUMULATIVE)
  const reader = new PeriodicExportingMetricReader({ exporter, exportIntervalMillis: 3_600_000 })
  const provider = new MeterProvider({ readers: [reader] })
  return {
    provider,
    async collect () {
      exporter.reset()
      await reader.forceFlush()
      return exporter.getMetrics().flatMap((rm) => rm.scopeMetrics.flatMap((sm) => sm.metrics))
    }
  }
}

function points (data: MetricData[], name: string, pool: string): Array<DataPoint<unknown>> {
  const metric = data.find((m) => m.descriptor.name === name)
  return (metric?.dataPoints as Array<DataPoint<unknown>> | undefined ?? []).filter((p) => p.attributes[POOL] === pool)
}

function value (data: MetricData[], name: string, pool: string, state?: string): number | undefined {
  const p = points(data, name, pool).find((p) => state === undefined || p.attributes['db.client.connection.state'] === state)
  return p?.value as number | undefined
}

function histogram (data: MetricData[], name: string, pool: string): Histogram | undefined {
  return points(data, name, pool)[0]?.value as Histogram | undefined
}

t.test('through the global MeterProvider: real traffic with a pool timeout', async (t) => {
  const { provider, collect } = sdk()
  t.ok(metrics.setGlobalMeterProvider(provider))
  t.teardown(() => metrics.disable())
  const { app, url } = await trafficApp(t, {})
  const url0 = new URL(await databaseUrl())
  const name = `${url0.hostname}:${url0.port === '' ? '3306' : url0.port}${url0.pathname}`
  t.equal(name.includes('root'), false, 'no credentials in the default pool name')

  let during: MetricData[] = []
  const traffic = await runTraffic(app, url, async () => { during = await collect() })
  t.same(traffic.statuses, [200, 503, 200, 200, 200], 'the queued request timed out with a 503')

  t.equal(value(during, 'db.client.connection.pending_requests', name), 1, 'one checkout waiting while collected')
  t.equal(value(during, 'db.client.connection.count', name, 'used'), 1)
  t.equal(value(during, 'db.client.connection.count', name, 'idle'), 0)

  const after = await collect()
  t.equal(value(after, 'db.client.connection.count', name, 'idle'), 1)
  t.equal(value(after, 'db.client.connection.count', name, 'used'), 0)
  t.equal(value(after, 'db.client.connection.pending_requests', name), 0)
  t.equal(value(after, 'db.client.connection.max', name), 1)
  t.equal(value(after, 'db.client.connection.idle.max', name), 1)
  t.equal(value(after, 'db.client.connection.timeouts', name), 1)
  const create = histogram(after, 'db.client.connection.create_time', name)
  const wait = histogram(after, 'db.client.connection.wait_time', name)
  const use = histogram(after, 'db.client.connection.use_time', name)
  t.equal(create?.count, 1, 'one connection opened')
  t.equal(wait?.count, traffic.checkouts, 'one wait per successful checkout')
  t.equal(use?.count, traffic.checkouts, 'one use per checkout')
  t.ok((use?.sum ?? 0) >= 0.39, `use time covers the 0.4 s statement (${use?.sum})`)
  t.ok((use?.max ?? 0) < 5, 'in seconds, not milliseconds')
  const useMetric = after.find((m) => m.descriptor.name === 'db.client.connection.use_time')
  t.equal(useMetric?.descriptor.unit, 's')
  t.same((use?.buckets.boundaries ?? []).slice(0, 3), [0.001, 0.005, 0.01], 'the advised bucket boundaries')

  const pool = app.db.pool
  const stats = pool.stats.bind(pool)
  let reads = 0
  pool.stats = () => { reads++; return stats() }
  await collect()
  t.ok(reads > 0, 'collection reads the pool')
  await app.close()
  reads = 0
  await collect()
  t.equal(reads, 0, 'a closed app is no longer read')
  t.equal(poolChannels.checkout.hasSubscribers, false, 'the recorder let go of the channels')
})

t.test('an explicit meterProvider and poolName; two pools side by side', async (t) => {
  const { provider, collect } = sdk()
  const a = await trafficApp(t, { poolName: 'primary', openTelemetry: { meterProvider: provider } })
  const b = await trafficApp(t, { poolName: 'reports', openTelemetry: { meterProvider: provider }, poolSize: 3, maxOverflow: 2 })
  await a.app.db.query('SELECT 1')
  await b.app.db.query('SELECT 1')
  await b.app.db.query('SELECT 1')
  const data = await collect()
  t.equal(value(data, 'db.client.connection.max', 'primary'), 1)
  t.equal(value(data, 'db.client.connection.max', 'reports'), 5)
  t.equal(value(data, 'db.client.connection.idle.max', 'reports'), 3)
  t.equal(histogram(data, 'db.client.connection.wait_time', 'primary')?.count, 1)
  t.equal(histogram(data, 'db.client.connection.wait_time', 'reports')?.count, 2)
  t.equal(value(data, 'db.client.connection.timeouts', 'primary'), undefined, 'no timeout, no data point')
})

t.test('no MeterProvider registered: nothing subscribes (auto mode)', async (t) => {
  const { app } = await trafficApp(t, {})
  await app.db.query('SELECT 1')
  t.equal(poolChannels.checkout.hasSubscribers, false)
  t.equal(poolChannels.connect.hasSubscribers, false)
})

t.test('instrumentPool for standalone pools', async (t) => {
  const { provider, collect } = sdk()
  const queue = await realPool(t, QueuePool, { poolSize: 0 })
  const nul = await realPool(t, NullPool)
  const stat = await realPool(t, StaticPool)
  const iq = instrumentPool(queue, { poolName: 'unbounded', openTelemetry: { meterProvider: provider } })
  const inul = instrumentPool(nul, { poolName: 'null', openTelemetry: { meterProvider: provider } })
  const istat = instrumentPool(stat, { poolName: 'static', openTelemetry: { meterProvider: provider } })
  t.equal(iq.poolName, 'unbounded')
  const [h1, h2] = await Promise.all([stat.connect(), stat.connect()])
  const n = await nul.connect()
  let data = await collect()
  t.equal(value(data, 'db.client.connection.count', 'static', 'used'), 1, 'two holders share one connection')
  t.equal(value(data, 'db.client.connection.max', 'static'), 1)
  t.equal(value(data, 'db.client.connection.count', 'null', 'used'), 1)
  t.equal(value(data, 'db.client.connection.max', 'null'), undefined, 'NullPool has no limit')
  t.equal(value(data, 'db.client.connection.idle.max', 'null'), 0)
  t.equal(value(data, 'db.client.connection.max', 'unbounded'), undefined, 'poolSize 0 has no limit')
  await Promise.all([h1.close(), h2.close(), n.close()])
  data = await collect()
  t.equal(histogram(data, 'db.client.connection.use_time', 'static')?.count, 2)
  t.equal(histogram(data, 'db.client.connection.create_time', 'null')?.count, 1)
  t.throws(() => instrumentPool(queue, { poolName: 'static', openTelemetry: { meterProvider: provider } }), { code: 'FST_DB_INVALID_OPTION', message: /already reports/ })
  t.throws(() => instrumentPool(queue, { poolName: '' }), { code: 'FST_DB_INVALID_OPTION' })
  for (const i of [iq, inul, istat]) {
    i.close()
    i.close()
  }
  t.equal(poolChannels.checkin.hasSubscribers, false)
  const unnamed = instrumentPool(queue, { openTelemetry: { meterProvider: provider } })
  t.equal(unnamed.poolName, 'unbounded', 'keeps the name the pool was given before')
  unnamed.close()
})

t.test('two apps on one database under the global provider: the second one warns instead of failing', async (t) => {
  const { provider, collect } = sdk()
  metrics.setGlobalMeterProvider(provider)
  t.teardown(() => metrics.disable())
  const first = await buildApp(t, { plugin: { poolName: 'same' }, logLevel: false })
  const second = await buildApp(t, { plugin: { poolName: 'same' }, logLevel: 'warn' })
  const warning = second.logs.find((l) => typeof l.msg === 'string' && l.msg.startsWith('No OpenTelemetry metrics for this pool'))
  t.ok(warning, 'a warning names the clash')
  t.equal(warning?.poolName, 'same')
  await first.app.db.query('SELECT 1')
  await second.app.db.query('SELECT 1')
  t.equal(histogram(await collect(), 'db.client.connection.wait_time', 'same')?.count, 1, 'only the first pool reports under that name')
  await t.rejects(buildApp(t, { plugin: { poolName: 'same', openTelemetry: true }, logLevel: false }),
    { code: 'FST_DB_INVALID_OPTION', message: /already reports/ }, 'asked for explicitly, the clash fails at register')
})
