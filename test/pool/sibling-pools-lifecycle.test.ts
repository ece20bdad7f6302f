import t from 'tap'
import mysql from 'mysql2/promise'
import { DatabaseUnavailableError, PoolClosedError } from '../../lib/errors'
import { AssertionPool, NullPool, StaticPool } from '../../lib/pool'
import { aliveThreads, killThread } from '../helpers/db'
import { admin, fakeLogger, realPool, threadOf, until } from '../helpers/pool'

const REFUSED = 'mysql://root@127.0.0.1:1/test'
const refusing = (): Promise<mysql.Connection> => mysql.createConnection(REFUSED)

t.test('NullPool: stats, COMMIT on return in commit mode, dispose resets counters, close', async (t) => {
  const a = await admin(t)
  await a.query('CREATE TABLE IF NOT EXISTS nullpool_commit (id INT PRIMARY KEY)')
  await a.query('DELETE FROM nullpool_commit')
  t.teardown(() => a.query('DROP TABLE IF EXISTS nullpool_commit'))
  const pool = await realPool(t, NullPool, { resetOnReturn: 'commit' })
  const h = await pool.connect()
  t.match(pool.stats(), { size: 0, checkedIn: 0, checkedOut: 1, overflow: 0, waiting: 0, connects: 1 })
  await h.query('START TRANSACTION')
  await h.query('INSERT INTO nullpool_commit VALUES (1)')
  await h.close()
  const [rows] = await a.query<mysql.RowDataPacket[]>('SELECT COUNT(*) AS n FROM nullpool_commit')
  t.equal(Number(rows[0].n), 1, "resetOnReturn 'commit' still commits before the connection is closed")
  await pool.dispose()
  t.equal(pool.stats().connects, 0, 'dispose() resets the counters')
  const held = await pool.connect()
  const closing = pool.close()
  await held.close()
  await closing
  await t.rejects(pool.connect(), PoolClosedError)
})

t.test('NullPool: a failed connect frees its place', async (t) => {
  const pool = new NullPool(refusing, { logger: fakeLogger() })
  t.teardown(() => pool.close())
  await t.rejects(pool.connect(), DatabaseUnavailableError)
  t.equal(pool.stats().checkedOut, 0)
  t.equal(pool.stats().connectErrors, 1)
})

t.test('StaticPool: a dead shared connection is replaced; dispose closes it', async (t) => {
  const a = await admin(t)
  const pool = await realPool(t, StaticPool)
  const h1 = await pool.connect()
  const first = threadOf(h1)
  await h1.close()
  t.match(pool.stats(), { size: 1, checkedIn: 1, checkedOut: 0 })
  await killThread(a, first)
  await until(() => pool.stats().checkedIn === 0, 5000, 'the killed idle connection to be dropped')
  const h2 = await pool.connect()
  t.not(threadOf(h2), first, 'a new connection replaces the killed one')
  const [rows] = await h2.query<mysql.RowDataPacket[]>('SELECT 1 AS ok')
  t.equal(rows[0].ok, 1)
  const replaced = threadOf(h2)
  h2.invalidate()
  const h3 = await pool.connect()
  t.not(threadOf(h3), replaced, 'an invalidated shared connection is replaced at the next checkout')
  const second = threadOf(h3)
  await h3.close()
  await pool.dispose()
  t.equal(pool.stats().connects, 0, 'dispose() resets the counters')
  await until(async () => (await aliveThreads(a, [second])).length === 0, 5000, 'dispose() to close the shared connection')
  const h4 = await pool.connect()
  t.not(threadOf(h4), second, 'usable after dispose, with a new connection')
  await h4.close()
})

t.test('AssertionPool: without tracebacks, failed connect, dispose', async (t) => {
  const a = await admin(t)
  const pool = await realPool(t, AssertionPool, { storeTraceback: false })
  const h = await pool.connect()
  t.match(pool.stats(), { size: 1, checkedIn: 0, checkedOut: 1 })
  const err = await pool.connect().then(() => undefined, (e: unknown) => e) as Error
  t.equal(err.message, 'connection is already checked out', 'no stack when storeTraceback is false')
  const thread = threadOf(h)
  await h.close()
  t.match(pool.stats(), { checkedIn: 1, checkedOut: 0 })
  await pool.dispose()
  await until(async () => (await aliveThreads(a, [thread])).length === 0, 5000, 'dispose() to close the idle connection')
  t.equal(pool.stats().checkedIn, 0)

  const down = new AssertionPool(refusing, { logger: fakeLogger() })
  t.teardown(() => down.close())
  await t.rejects(down.connect(), DatabaseUnavailableError)
  await t.rejects(down.connect(), DatabaseUnavailableError, 'a failed connect does not leave the pool "checked out"')
  t.equal(down.stats().checkedOut, 0)
})

t.test('StaticPool: a holder leaving mid-statement does not kill the shared connection under the others', async (t) => {
  const pool = await realPool(t, StaticPool)
  const [leaver, stayer] = await Promise.all([pool.connect(), pool.connect()])
  const shared = threadOf(stayer)
  const running = leaver.query('SELECT SLEEP(0.3) AS s').then(([rows]) => rows, (e: unknown) => e)
  await leaver.close()
  const [rows] = await stayer.query<mysql.RowDataPacket[]>('SELECT CONNECTION_ID() AS id')
  t.equal(Number(rows[0].id), shared, 'the other holder still has the same, live connection')
  t.same(await running, [{ s: 0 }], 'the statement was not killed: it finished normally')
  t.equal(pool.stats().invalidations, 0)
  await stayer.close()
})
