import t from 'tap'
import mysql from 'mysql2/promise'
import { QueuePool } from '../../lib/pool'
import type { PooledConnection } from '../../lib/pool'
import { aliveThreads, databaseUrl, killThread, openTransactions } from '../helpers/db'
import { admin, fakeLogger, realPool, threadOf, until } from '../helpers/pool'

const table = `pool_reset_${process.pid}`

async function count (a: mysql.Connection): Promise<number> {
  const [rows] = await a.query<mysql.RowDataPacket[]>(`SELECT COUNT(*) AS n FROM ${table}`)
  return Number(rows[0].n)
}

async function value (h: PooledConnection, sql: string): Promise<unknown> {
  const [rows] = await h.query<mysql.RowDataPacket[]>(sql)
  return Object.values(rows[0])[0]
}

t.before(async () => {
  const a = await mysql.createConnection(await databaseUrl())
  await a.query(`CREATE TABLE IF NOT EXISTS ${table} (id INT PRIMARY KEY) ENGINE=InnoDB`)
  await a.end()
})
t.teardown(async () => {
  const a = await mysql.createConnection(await databaseUrl())
  await a.query(`DROP TABLE IF EXISTS ${table}`)
  await a.end()
})

t.beforeEach(async () => {
  const a = await mysql.createConnection(await databaseUrl())
  await a.query(`DELETE FROM ${table}`)
  await a.end()
})

t.test("'rollback' rolls back an open transaction on return", async (t) => {
  const a = await admin(t)
  const pool = await realPool(t, QueuePool, { poolSize: 1, maxOverflow: 0, resetOnReturn: 'rollback' })
  const h = await pool.connect()
  await h.query('BEGIN')
  await h.query(`INSERT INTO ${table} VALUES (1)`)
  t.equal(await openTransactions(a) >= 1, true, 'the transaction is open while held')
  await h.close()
  t.equal(await count(a), 0, 'the row is gone')
  const h2 = await pool.connect()
  t.equal(await value(h2, 'SELECT @@in_transaction'), 0)
  await h2.close()
})

t.test("'commit' commits on return", async (t) => {
  const a = await admin(t)
  const pool = await realPool(t, QueuePool, { poolSize: 1, maxOverflow: 0, resetOnReturn: 'commit' })
  const h = await pool.connect()
  await h.query('BEGIN')
  await h.query(`INSERT INTO ${table} VALUES (2)`)
  await h.close()
  t.equal(await count(a), 1, 'the row is committed')
})

t.test("'reset' (COM_RESET_CONNECTION) clears session state on the same thread", async (t) => {
  const a = await admin(t)
  const pool = await realPool(t, QueuePool, { poolSize: 1, maxOverflow: 0, resetOnReturn: 'reset' })
  const h = await pool.connect()
  const thread = threadOf(h)
  await h.query('SET @v = 42')
  await h.query('CREATE TEMPORARY TABLE tmp_reset (x INT)')
  await h.query('BEGIN')
  await h.query(`INSERT INTO ${table} VALUES (3)`)
  await h.close()
  t.equal(await count(a), 0, 'the transaction was rolled back')
  const h2 = await pool.connect()
  t.equal(threadOf(h2), thread, 'same server thread')
  t.equal(await value(h2, 'SELECT @v'), null, 'user variable gone')
  await t.rejects(h2.query('SELECT * FROM tmp_reset'), { code: 'ER_NO_SUCH_TABLE' }, 'temporary table gone')
  await h2.close()
})

t.test("'none' leaves session state and the transaction alone", async (t) => {
  const pool = await realPool(t, QueuePool, { poolSize: 1, maxOverflow: 0, resetOnReturn: 'none' })
  const resets: string[] = []
  pool.on('reset', (_c, _r, mode) => resets.push(mode))
  const h = await pool.connect()
  const thread = threadOf(h)
  await h.query('SET @v = 7')
  await h.query('BEGIN')
  await h.query(`INSERT INTO ${table} VALUES (4)`)
  await h.close()
  t.same(resets, ['none'], 'the reset event still fires')
  const h2 = await pool.connect()
  t.equal(threadOf(h2), thread)
  t.equal(Number(await value(h2, 'SELECT @v')), 7)
  t.equal(await value(h2, 'SELECT @@in_transaction'), 1)
  await h2.query('ROLLBACK')
  await h2.close()
})

t.test('read-only statements skip the ROLLBACK on return (reset event still fires)', async (t) => {
  const pool = await realPool(t, QueuePool, { poolSize: 1, maxOverflow: 0, resetOnReturn: 'rollback' })
  const resets: string[] = []
  pool.on('reset', (_c, _r, mode) => resets.push(mode))
  const rollbacks = async (h: PooledConnection): Promise<number> => {
    const [rows] = await h.query<mysql.RowDataPacket[]>("SHOW SESSION STATUS LIKE 'Com_rollback'")
    return Number(rows[0].Value)
  }
  const h = await pool.connect()
  const before = await rollbacks(h)
  await h.query('SELECT 1')
  await h.close()
  t.same(resets, ['rollback'])
  const h2 = await pool.connect()
  t.equal(await rollbacks(h2), before, 'no ROLLBACK was sent')
  await h2.query(`INSERT INTO ${table} VALUES (5)`)
  await h2.close()
  const h3 = await pool.connect()
  t.equal(await rollbacks(h3), before + 1, 'a write makes the return send ROLLBACK')
  await h3.close()
  t.same(resets, ['rollback', 'rollback', 'rollback'])
})

t.test('a connection KILLed while checked out is discarded on close, nothing thrown', async (t) => {
  const a = await admin(t)
  const logger = fakeLogger()
  const pool = await realPool(t, QueuePool, { poolSize: 1, maxOverflow: 0, logger })
  const h = await pool.connect()
  const thread = threadOf(h)
  await h.query(`INSERT INTO ${table} VALUES (6)`)
  await killThread(a, thread)
  await new Promise((resolve) => setTimeout(resolve, 50))
  await h.close() // must not throw
  t.equal(pool.stats().invalidations, 1)
  t.equal(pool.checkedin(), 1)
  const h2 = await pool.connect()
  t.not(threadOf(h2), thread, 'a new connection')
  t.equal(await value(h2, 'SELECT 1'), 1)
  await h2.close()
  await until(async () => (await aliveThreads(a, [thread])).length === 0, 3000, 'the killed thread to end')
})
