/**
 * app.db for work outside requests: sessions (with `await using`), one-off query/execute,
 * stats() and status().
 */
import t from 'tap'
import Fastify from 'fastify'
import sensible from '@fastify/sensible'
import type { ResultSetHeader, RowDataPacket } from 'mysql2'
import dbSession, { DbFacade, QueuePool, Session } from '../lib'
import { databaseUrl } from './helpers/db'
import { admin } from './helpers/pool'
import { appTransactions, buildApp, countCheckins } from './plugin/_helpers'

const TABLE = 'facade_items'

t.test('app.db', async (t) => {
  const db = await admin(t)
  await db.query(`DROP TABLE IF EXISTS ${TABLE}`)
  await db.query(`CREATE TABLE ${TABLE} (id INT AUTO_INCREMENT PRIMARY KEY, name VARCHAR(50) NOT NULL) ENGINE=InnoDB`)
  t.teardown(() => db.query(`DROP TABLE IF EXISTS ${TABLE}`))

  t.test('is a DbFacade over a QueuePool built from the options', async (t) => {
    const { app } = await buildApp(t, { plugin: { poolSize: 3, maxOverflow: 2 } })
    t.ok(app.db instanceof DbFacade)
    t.ok(app.db.pool instanceof QueuePool)
    t.equal((app.db.pool as QueuePool).size(), 3)
    t.equal(app.db.pool.timeout(), 30_000)
  })

  t.test('session() with await using returns its connection', async (t) => {
    const { app } = await buildApp(t)
    const counts = countCheckins(app)
    let kept: Session | undefined
    {
      await using s = app.db.session()
      kept = s
      const [rows] = await s.query<RowDataPacket[]>('SELECT 1 AS one')
      t.equal(rows[0].one, 1)
      t.equal(app.db.stats().checkedOut, 1, 'held inside the block')
    }
    t.equal(kept.closed, true, 'closed at the end of the block')
    t.equal(app.db.stats().checkedOut, 0, 'returned at the end of the block')
    t.same(counts, { checkouts: 1, checkins: 1 })
  })

  t.test('await using also disposes when the block throws, rolling back', async (t) => {
    const { app } = await buildApp(t)
    const counts = countCheckins(app)
    const run = async (): Promise<void> => {
      await using s = app.db.session()
      await s.begin()
      await s.query(`INSERT INTO ${TABLE} (name) VALUES ('thrown')`)
      throw new Error('job failed')
    }
    await t.rejects(run(), { message: 'job failed' })
    t.equal(app.db.stats().checkedOut, 0)
    const [rows] = await db.query<RowDataPacket[]>(`SELECT COUNT(*) AS n FROM ${TABLE} WHERE name = 'thrown'`)
    t.equal(Number(rows[0].n), 0, 'the open transaction was rolled back')
    t.same(counts, { checkouts: 1, checkins: 1 })
    t.equal(await appTransactions(app, db), 0)
  })

  t.test('[Symbol.asyncDispose]() and close() directly', async (t) => {
    const { app } = await buildApp(t)
    const s = app.db.session()
    try {
      await s.query('SELECT 1')
      t.equal(app.db.stats().checkedOut, 1)
    } finally {
      await s[Symbol.asyncDispose]()
    }
    t.equal(app.db.stats().checkedOut, 0)
    await s.close() // idempotent after dispose
    await t.rejects(s.query('SELECT 1'), { code: 'FST_DB_SESSION_CLOSED' })
    const uow = app.db.session({ transaction: true })
    await uow.query(`INSERT INTO ${TABLE} (name) VALUES ('uow')`)
    t.equal(uow.inTransaction, true, 'session({ transaction: true }) is a unit of work')
    await uow.commit()
    await uow.close()
    const [rows] = await db.query<RowDataPacket[]>(`SELECT COUNT(*) AS n FROM ${TABLE} WHERE name = 'uow'`)
    t.equal(Number(rows[0].n), 1)
    t.equal(app.db.stats().checkedOut, 0)
  })

  t.test('query() and execute(): one checkout, one statement, returned', async (t) => {
    const { app } = await buildApp(t)
    const counts = countCheckins(app)
    const [rows] = await app.db.query<RowDataPacket[]>('SELECT ? + 1 AS v', [41])
    t.equal(Number(rows[0].v), 42)
    t.equal(app.db.stats().checkedOut, 0)
    const [res] = await app.db.execute<ResultSetHeader>(`INSERT INTO ${TABLE} (name) VALUES (?)`, ['one-off'])
    t.equal(res.affectedRows, 1)
    const [check] = await db.query<RowDataPacket[]>(`SELECT COUNT(*) AS n FROM ${TABLE} WHERE name = 'one-off'`)
    t.equal(Number(check[0].n), 1, 'autocommitted')
    await t.rejects(app.db.query('SELEC 1'), { code: 'FST_DB_QUERY_FAILED', message: 'Database query failed (ER_PARSE_ERROR)' })
    await t.rejects(app.db.execute('SELEC 1'), { code: 'FST_DB_QUERY_FAILED' })
    t.equal(app.db.stats().checkedOut, 0, 'returned after a failing statement too')
    t.same(counts, { checkouts: 4, checkins: 4 })
    t.equal(app.db.stats().connects, 1, 'one connection reused by the one-offs')
    t.equal(await appTransactions(app, db), 0)
  })

  t.test('stats() and status()', async (t) => {
    const { app } = await buildApp(t, { plugin: { poolSize: 2, maxOverflow: 3 } })
    t.equal(app.db.status(), 'Pool size: 2  Connections in pool: 0 Current Overflow: -2 Current Checked out connections: 0')
    const s = app.db.session()
    await s.query('SELECT 1')
    t.match(app.db.stats(), { size: 2, checkedIn: 0, checkedOut: 1, overflow: -1, waiting: 0, connects: 1, checkouts: 1 })
    t.equal(app.db.status(), 'Pool size: 2  Connections in pool: 0 Current Overflow: -1 Current Checked out connections: 1')
    await s.close()
    t.match(app.db.stats(), { checkedIn: 1, checkedOut: 0 })
    t.equal(app.db.status(), 'Pool size: 2  Connections in pool: 1 Current Overflow: -1 Current Checked out connections: 0')
    const snap = app.db.stats()
    await app.db.query('SELECT 1')
    t.equal(snap.checkouts, 1, 'stats() is a snapshot, not a live view')
  })

  t.test('a pool given as an option is used and closed with the app', async (t) => {
    const url = await databaseUrl()
    const mysql = await import('mysql2/promise')
    const pool = new QueuePool(() => mysql.createConnection(url), { poolSize: 1, closeTimeout: 500 })
    const app = Fastify({ logger: false })
    t.teardown(() => app.close())
    await app.register(sensible)
    await app.register(dbSession, { pool })
    t.equal(app.db.pool, pool)
    const [rows] = await app.db.query<RowDataPacket[]>('SELECT 1 AS one')
    t.equal(rows[0].one, 1)
    await app.close()
    t.equal(pool.closed, true)
  })
})
