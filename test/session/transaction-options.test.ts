/**
 * Isolation levels and read-only transactions, on begin(), transaction(fn) and the route's unit of
 * work, checked on the server (INNODB_TRX) rather than trusted; invalid options fail early.
 */
import t from 'tap'
import Fastify from 'fastify'
import sensible from '@fastify/sensible'
import type { RowDataPacket } from 'mysql2'
import dbSession, { InvalidOptionError, QueryError, Session, TransactionStateError } from '../../lib'
import { QueuePool } from '../../lib/pool'
import { ISOLATION_LEVELS, resolveRunOptions, resolveTransactionOptions } from '../../lib/session/transaction-options'
import { admin, realPool, sleep } from '../helpers/pool'
import { buildApp } from '../plugin/_helpers'

const TABLE = 'tx_options_probe'

/**
 * The isolation level and read-only flag InnoDB reports for the transaction open on `db`. The
 * table is served from a cache refreshed only when unread for 100 ms: wait that out first.
 */
async function innodbTransaction (db: { query: Session['query'] }): Promise<{ level: string, readOnly: boolean }> {
  await db.query(`SELECT COUNT(*) FROM ${TABLE}`) // makes InnoDB start the transaction
  for (let tries = 0; ; tries++) {
    await sleep(150)
    const [rows] = await db.query<RowDataPacket[]>('SELECT trx_isolation_level AS level, trx_is_read_only AS ro FROM information_schema.innodb_trx WHERE trx_mysql_thread_id = CONNECTION_ID()')
    if (rows.length > 0) return { level: String(rows[0].level), readOnly: Number(rows[0].ro) === 1 }
    if (tries === 20) throw new Error('the transaction never showed in information_schema.innodb_trx')
  }
}

t.test('transaction options', async (t) => {
  const db = await admin(t)
  await db.query(`CREATE TABLE IF NOT EXISTS ${TABLE} (id INT PRIMARY KEY) ENGINE=InnoDB`)
  t.teardown(() => db.query(`DROP TABLE IF EXISTS ${TABLE}`))

  t.test('begin({ isolationLevel }) applies to that transaction only', async (t) => {
    const pool = await realPool(t, QueuePool, { poolSize: 1 })
    const s = new Session(pool)
    t.teardown(() => s.close())
    for (const level of ISOLATION_LEVELS) {
      await s.begin({ isolationLevel: level })
      t.same(await innodbTransaction(s), { level, readOnly: false }, `${level} is in effect`)
      await s.commit()
      await s.begin()
      t.same(await innodbTransaction(s), { level: 'REPEATABLE READ', readOnly: false }, 'the next transaction has the server default again')
      await s.rollback()
    }
  })

  t.test('readOnly: a write is refused by the server, reads work', async (t) => {
    const pool = await realPool(t, QueuePool, { poolSize: 1 })
    const s = new Session(pool)
    t.teardown(() => s.close())
    const result = await s.transaction(async () => {
      t.same(await innodbTransaction(s), { level: 'READ COMMITTED', readOnly: true })
      const err = await s.query(`INSERT INTO ${TABLE} VALUES (1)`).catch((e: unknown) => e) as QueryError
      t.ok(err instanceof QueryError)
      t.equal(err.errno, 1792, 'ER_CANT_EXECUTE_IN_READ_ONLY_TRANSACTION')
      return 'read'
    }, { readOnly: true, isolationLevel: 'READ COMMITTED' })
    t.equal(result, 'read')
    const [rows] = await db.query<RowDataPacket[]>(`SELECT COUNT(*) AS n FROM ${TABLE}`)
    t.equal(Number(rows[0].n), 0, 'nothing was written')
  })

  t.test('READ COMMITTED sees a concurrent commit that REPEATABLE READ does not', async (t) => {
    await db.query(`INSERT INTO ${TABLE} VALUES (1)`)
    t.teardown(() => db.query(`DELETE FROM ${TABLE}`))
    const pool = await realPool(t, QueuePool, { poolSize: 2 })
    const count = async (s: Session): Promise<number> => Number((await s.query<RowDataPacket[]>(`SELECT COUNT(*) AS n FROM ${TABLE}`))[0][0].n)
    const seen: Record<string, number[]> = {}
    for (const level of ['READ COMMITTED', 'REPEATABLE READ'] as const) {
      const s = new Session(pool)
      await s.transaction(async () => {
        const before = await count(s)
        await db.query(`INSERT INTO ${TABLE} VALUES (${level === 'READ COMMITTED' ? 2 : 3})`)
        seen[level] = [before, await count(s)]
      }, { isolationLevel: level })
      await s.close()
    }
    t.same(seen, { 'READ COMMITTED': [1, 2], 'REPEATABLE READ': [2, 2] })
  })

  t.test('invalid options fail at call time naming the accepted values', async (t) => {
    const pool = await realPool(t, QueuePool, { poolSize: 1 })
    const s = new Session(pool)
    t.teardown(() => s.close())
    await t.rejects(s.begin({ isolationLevel: 'SNAPSHOT' as never }), {
      code: 'FST_DB_INVALID_OPTION',
      message: /transaction\.isolationLevel: expected one of 'READ UNCOMMITTED', 'READ COMMITTED', 'REPEATABLE READ', 'SERIALIZABLE', got "SNAPSHOT"/
    })
    await t.rejects(s.begin({ readOnly: 'yes' as never }), { code: 'FST_DB_INVALID_OPTION', message: /readOnly: expected true or false/ })
    await t.rejects(s.transaction(async () => 1, { readonly: true } as never), { code: 'FST_DB_INVALID_OPTION', message: /Did you mean readOnly\?/ })
    await t.rejects(s.transaction(async () => 1, { retries: -1 }), { message: /transaction\.retries: expected an integer >= 0/ })
    t.throws(() => new Session(pool, { transaction: { isolationLevel: 'serializable' as never } }), InvalidOptionError)
    t.equal(s.hasConnection, false, 'nothing reached the database')
    t.throws(() => resolveTransactionOptions('SERIALIZABLE'), { message: /expected an object like/ })
    t.same(resolveRunOptions(undefined).retries, 0)
  })

  t.test('options inside an open transaction are refused, not silently ignored', async (t) => {
    const pool = await realPool(t, QueuePool, { poolSize: 1 })
    const s = new Session(pool)
    t.teardown(() => s.close())
    await s.begin()
    await t.rejects(s.transaction(async () => 1, { isolationLevel: 'SERIALIZABLE' }), TransactionStateError)
    await s.rollback()
    const uow = new Session(pool, { transaction: { readOnly: true } })
    t.teardown(() => uow.close())
    await uow.query('SELECT 1')
    await t.rejects(uow.begin({ isolationLevel: 'SERIALIZABLE' }), { code: 'FST_DB_TRANSACTION_STATE', message: /already begun/ })
    t.same(await innodbTransaction(uow), { level: 'REPEATABLE READ', readOnly: true }, 'the unit of work began read-only')
    await uow.close()
    const fresh = new Session(pool, { transaction: true })
    t.teardown(() => fresh.close())
    await t.rejects(fresh.begin({ readOnly: true }), { code: 'FST_DB_TRANSACTION_STATE', message: /set its options in the route config/ })
  })

  t.test('route config: options apply to the unit of work; invalid ones fail at registration', async (t) => {
    const { app } = await buildApp(t, {
      setup (app) {
        app.get('/ro', { config: { db: { transaction: { isolationLevel: 'SERIALIZABLE', readOnly: true } } } }, async (request) => {
          const trx = await innodbTransaction(request.db)
          const write = await request.db.query(`INSERT INTO ${TABLE} VALUES (9)`).then(() => 'written', (e: QueryError) => e.errno)
          return { ...trx, write }
        })
        app.get('/plain', { config: { db: { transaction: true } } }, async (request) => innodbTransaction(request.db))
      }
    })
    t.same((await app.inject('/ro')).json(), { level: 'SERIALIZABLE', readOnly: true, write: 1792 })
    t.same((await app.inject('/plain')).json(), { level: 'REPEATABLE READ', readOnly: false }, 'the next request on the same connection is back to the default')
    const bad = [
      [{ isolationLevel: 'SNAPSHOT' }, /config\.db\.transaction\.isolationLevel: expected one of 'READ UNCOMMITTED', 'READ COMMITTED', 'REPEATABLE READ', 'SERIALIZABLE', got "SNAPSHOT"/],
      [{ readonly: true }, /Unknown config\.db\.transaction option readonly\. Did you mean readOnly\?/],
      ['yes', /config\.db\.transaction: expected true, false or \{ isolationLevel, readOnly \}/],
      [{ retries: 2 }, /Unknown config\.db\.transaction option retries/]
    ] as const
    for (const [transaction, message] of bad) {
      const other = Fastify()
      t.teardown(() => other.close())
      await other.register(sensible)
      await other.register(dbSession, { connection: 'mysql://root@127.0.0.1:1/none' })
      t.throws(() => other.get('/bad', { config: { db: { transaction: transaction as never } } }, async () => ({})), { code: 'FST_DB_INVALID_OPTION', message })
    }
  })
})
