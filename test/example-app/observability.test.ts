import t from 'tap'
import { buildApp } from '../../example-app/app'
import { exampleApp } from './fixtures/setup'
import { databaseUrl } from '../helpers/db'
import { freePort } from '../helpers/private-server'

t.test('GET /health/ready answers 200 with the readiness report', async (t) => {
  const { app } = await exampleApp(t, 'example_test_observability')
  const res = await app.inject({ method: 'GET', url: '/health/ready' })
  t.equal(res.statusCode, 200)
  t.match(res.json(), { ready: true, status: 'ok', saturated: false, latencyMs: Number, pool: { size: 3, checkedOut: 0 } })

  await app.inject({ method: 'GET', url: '/items' })
  const metrics = await app.inject({ method: 'GET', url: '/metrics' })
  t.equal(metrics.statusCode, 200)
  t.match(metrics.headers['content-type'], /text\/plain/)
  const server = new URL(await databaseUrl())
  const poolName = `${server.hostname}:${server.port === '' ? '3306' : server.port}/example_test_observability`
  t.match(metrics.body, `db_client_connection_max{pool_name="${poolName}"} 13`, 'the pool limit (poolSize 3 + maxOverflow 10), named host:port/database')
  t.match(metrics.body, /db_client_connection_count\{pool_name="[^"]+",state="idle"\} \d+/)
  t.match(metrics.body, /db_client_connection_wait_time_seconds_count\{pool_name="[^"]+"\} [1-9]/)
  t.notMatch(metrics.body, /root|password/)
})

t.test('GET /health/ready answers 503 when the database is unreachable', async (t) => {
  const port = await freePort()
  const app = buildApp({ db: { connection: `mysql://root@127.0.0.1:${port}/nothing` }, createSchema: false })
  t.teardown(() => app.close())
  const res = await app.inject({ method: 'GET', url: '/health/ready' })
  t.equal(res.statusCode, 503)
  t.equal(res.headers['retry-after'], '1')
  t.match(res.json(), { ready: false, status: 'unavailable', error: 'FST_DB_UNAVAILABLE', errorCause: 'ECONNREFUSED' })
})
