import t from 'tap'
import { Writable } from 'node:stream'
import pino from 'pino'
import { buildApp } from '../../example-app/app'
import { exampleApp, withDatabase } from './fixtures/setup'
import { databaseUrl } from '../helpers/db'
import { freePort } from '../helpers/private-server'

t.test('GET /health reports the pool stats and status line', async (t) => {
  const { app } = await exampleApp(t, 'example_test_health')
  const res = await app.inject({ method: 'GET', url: '/health' })
  t.equal(res.statusCode, 200)
  const body = res.json()
  t.match(body, {
    status: 'ok',
    database: 'up',
    pool: { size: 3, checkedIn: Number, checkedOut: 0, overflow: Number, waiting: 0, checkouts: Number, timeouts: 0 }
  })
  t.match(body.poolStatus, /^Pool size: 3 {2}Connections in pool: \d+ Current Overflow: -?\d+ Current Checked out connections: 0$/)
  t.equal(app.db.stats().checkedOut, 0)
})

t.test('GET /health answers 503 when the database is unreachable', async (t) => {
  const port = await freePort()
  const app = buildApp({ db: { connection: `mysql://root@127.0.0.1:${port}/nothing` }, createSchema: false })
  t.teardown(() => app.close())
  const res = await app.inject({ method: 'GET', url: '/health' })
  t.equal(res.statusCode, 503)
  t.match(res.json(), { status: 'degraded', database: 'down', error: 'FST_DB_UNAVAILABLE', pool: { checkedOut: 0 } })
})

t.test('the request log line carries dbPool and dbSession', async (t) => {
  const lines: Array<Record<string, unknown>> = []
  const sink = new Writable({
    write (chunk: Buffer, _enc, cb) {
      for (const l of chunk.toString().split('\n')) if (l !== '') lines.push(JSON.parse(l))
      cb()
    }
  })
  const url = withDatabase(await databaseUrl(), 'test')
  const app = buildApp({ db: { connection: url }, createSchema: false, loggerInstance: pino({ level: 'info' }, sink) })
  t.teardown(() => app.close())
  await app.inject({ method: 'GET', url: '/health' })
  const done = lines.find((l) => l.msg === 'request completed')
  t.ok(done, 'a request completed line')
  t.match(done, { dbPool: { size: 5, checkedOut: 0, waiting: 0 }, dbSession: { queries: 1 } })
  t.notMatch(JSON.stringify(lines), /password/i)
})
