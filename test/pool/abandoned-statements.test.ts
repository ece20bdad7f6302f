/** Statements still running when their connection is given up: they settle, never hang. */
import t from 'tap'
import mysql from 'mysql2/promise'
import { ConnectionInvalidatedError } from '../../lib/errors'
import { QueuePool } from '../../lib/pool'
import { databaseUrl } from '../helpers/db'
import { startTcpProxy } from '../helpers/tcp-proxy'
import { fakeLogger, realPool, sleep } from '../helpers/pool'

t.test('invalidate() with a statement running and one queued behind it: both settle at once', async (t) => {
  const pool = await realPool(t, QueuePool, { poolSize: 1, maxOverflow: 0 })
  const h = await pool.connect()
  const started = Date.now()
  const first = h.query('SELECT SLEEP(3)').then(() => 'resolved', (e: unknown) => e)
  const queued = h.query('SELECT 1').then(() => 'resolved', (e: unknown) => e)
  await sleep(100)
  h.invalidate()
  const [a, b] = await Promise.all([first, queued])
  t.ok(a instanceof ConnectionInvalidatedError, 'the running statement fails with ConnectionInvalidatedError')
  t.ok(b instanceof ConnectionInvalidatedError, 'the queued statement fails too, instead of waiting forever')
  t.ok(Date.now() - started < 1500, 'at once, not when SLEEP(3) ends')
  t.equal(pool.checkedout(), 0, 'the slot is free')
})

t.test('KILL is not sent when the side connection reaches another server endpoint', async (t) => {
  const url = await databaseUrl()
  const target = new URL(url)
  const proxy = await startTcpProxy({ host: target.hostname, port: Number(target.port || 3306) })
  t.teardown(() => proxy.close())
  // The pooled connection goes through the proxy; any later one (the KILL side connection) goes
  // direct: to the pool they are different servers, and a thread id means nothing across servers.
  let made = 0
  const logger = fakeLogger()
  const pool = new QueuePool(() => mysql.createConnection(made++ === 0 ? proxy.urlFor(url) : url), {
    poolSize: 1, maxOverflow: 0, logger, closeTimeout: 200
  })
  t.teardown(() => pool.close())
  const h = await pool.connect()
  const running = h.query('SELECT SLEEP(2)').then(() => 'resolved', (e: unknown) => e)
  await sleep(100)
  const started = Date.now()
  await h.close({ abortReason: new ConnectionInvalidatedError() })
  const err = await running
  t.ok(err instanceof ConnectionInvalidatedError, 'the statement was failed, not left running on a reused connection')
  t.ok(Date.now() - started < 1500, 'without waiting for the statement')
  t.equal(pool.stats().invalidations, 1, 'the connection was destroyed instead of killed and reused')
  t.ok(logger.at('debug').some((c) => /another server/.test(c.msg ?? '')), 'the skipped KILL is logged at debug')
})
