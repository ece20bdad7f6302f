/**
 * The Kysely integration against the real database, without Fastify: outside a request every
 * acquisition takes a session of its own and gives the connection back; with a current session
 * (what a request provides) everything runs on that session's connection and Kysely's
 * transactions nest as savepoints.
 */
import t from 'tap'
import { sql, type Generated } from 'kysely'
import { InvalidOptionError, TransactionStateError } from '../../lib'
import { kysely } from '../../lib/kysely'
import { connectionId } from '../helpers/db'
import { fixture, names, sourceWith } from './_helpers'

interface Database {
  ky_people: { id: Generated<number>, name: string }
}

const TABLE = 'ky_people'

t.test('outside a request: each statement checks a connection out and returns it', async (t) => {
  const { facade, pool, admin } = await fixture(t, TABLE)
  const db = kysely<Database>(facade)
  const before = pool.stats().checkouts
  const inserted = await db.insertInto('ky_people').values({ name: 'ada' }).executeTakeFirstOrThrow()
  t.type(inserted.insertId, 'bigint')
  t.ok(Number(inserted.insertId) > 0, 'insertId')
  t.equal(inserted.numInsertedOrUpdatedRows, 1n)
  const updated = await db.updateTable('ky_people').set({ name: 'ada l.' }).where('name', '=', 'ada').executeTakeFirst()
  t.equal(updated.numUpdatedRows, 1n)
  t.equal(updated.numChangedRows, 1n)
  const rows = await db.selectFrom('ky_people').select(['id', 'name']).execute()
  t.same(rows.map((r) => r.name), ['ada l.'])
  t.equal(pool.stats().checkouts - before, 3, 'one checkout per statement')
  t.equal(pool.stats().checkedOut, 0, 'every connection went back')
  t.same(await names(admin, TABLE), ['ada l.'], 'autocommitted: another connection sees it')
  const deleted = await db.deleteFrom('ky_people').executeTakeFirst()
  t.equal(deleted.numDeletedRows, 1n)
})

t.test('outside a request: transaction() runs on one connection, commits, and rolls back on throw', async (t) => {
  const { facade, pool, admin } = await fixture(t, TABLE)
  const db = kysely<Database>(facade)
  const ids = await db.transaction().execute(async (trx) => {
    await trx.insertInto('ky_people').values({ name: 'in-tx' }).execute()
    const a = await sql<{ id: number }>`SELECT CONNECTION_ID() AS id`.execute(trx)
    const b = await sql<{ t: number }>`SELECT @@in_transaction AS t`.execute(trx)
    t.equal(Number(b.rows[0].t), 1, 'inside a transaction')
    t.same(await names(admin, TABLE), [], 'not visible before the commit')
    return a.rows[0].id
  })
  t.ok(ids > 0)
  t.same(await names(admin, TABLE), ['in-tx'], 'committed')
  await t.rejects(db.transaction().execute(async (trx) => {
    await trx.insertInto('ky_people').values({ name: 'undone' }).execute()
    throw new Error('boom')
  }), { message: 'boom' })
  t.same(await names(admin, TABLE), ['in-tx'], 'rolled back')
  t.equal(pool.stats().checkedOut, 0)
  // connection(): several statements on one checkout
  const pair = await db.connection().execute(async (c) => [
    (await sql<{ id: number }>`SELECT CONNECTION_ID() AS id`.execute(c)).rows[0].id,
    (await sql<{ id: number }>`SELECT CONNECTION_ID() AS id`.execute(c)).rows[0].id
  ])
  t.equal(pair[0], pair[1], 'connection() keeps one connection')
  t.equal(pool.stats().checkedOut, 0)
})

t.test('with a current session: same connection, and transaction() nests as a savepoint', async (t) => {
  const { facade, pool, admin } = await fixture(t, TABLE)
  const session = facade.session({ transaction: true }) // what a unit-of-work route gets
  t.teardown(() => session.close())
  const db = kysely<Database>(sourceWith(facade, () => session))
  const mine = await connectionId(session)
  const seen = await sql<{ id: number }>`SELECT CONNECTION_ID() AS id`.execute(db)
  t.equal(Number(seen.rows[0].id), mine, 'Kysely runs on the session\'s connection')
  await db.insertInto('ky_people').values({ name: 'outer' }).execute()
  await t.rejects(db.transaction().execute(async (trx) => {
    await trx.insertInto('ky_people').values({ name: 'inner, undone' }).execute()
    t.equal(Number((await sql<{ id: number }>`SELECT CONNECTION_ID() AS id`.execute(trx)).rows[0].id), mine)
    throw new Error('undo the inner part only')
  }))
  await db.transaction().execute(async (trx) => {
    await trx.insertInto('ky_people').values({ name: 'inner, kept' }).execute()
  })
  t.ok(session.inTransaction, 'the session\'s own transaction is still open')
  t.same(await names(admin, TABLE), [], 'nothing committed yet: the savepoints were inside the unit of work')
  t.equal(pool.stats().checkedOut, 1, 'only the session\'s connection is out')
  await session.commit()
  t.same(await names(admin, TABLE), ['outer', 'inner, kept'])
  await session.close()
  t.equal(pool.stats().checkedOut, 0)
})

t.test('with a current session outside a transaction: transaction() is a real one on that connection', async (t) => {
  const { facade, admin } = await fixture(t, TABLE)
  const session = facade.session()
  t.teardown(() => session.close())
  const db = kysely<Database>(sourceWith(facade, () => session))
  await t.rejects(db.transaction().execute(async (trx) => {
    await trx.insertInto('ky_people').values({ name: 'gone' }).execute()
    throw new Error('no')
  }))
  await db.transaction().execute(async (trx) => {
    await trx.insertInto('ky_people').values({ name: 'kept' }).execute()
  })
  t.notOk(session.inTransaction)
  t.same(await names(admin, TABLE), ['kept'], 'committed by Kysely\'s transaction, the session stays open')
  t.equal((await session.query('SELECT 1'))[0] !== undefined, true, 'the session is still usable')
})

t.test('controlled transactions and named savepoints', async (t) => {
  const { facade, admin } = await fixture(t, TABLE)
  const db = kysely<Database>(facade)
  const trx = await db.startTransaction().execute()
  await trx.insertInto('ky_people').values({ name: 'a' }).execute()
  const sp = await trx.savepoint('before_b').execute()
  await sp.insertInto('ky_people').values({ name: 'b' }).execute()
  const back = await sp.rollbackToSavepoint('before_b').execute()
  const sp2 = await back.savepoint('before_c').execute()
  await sp2.insertInto('ky_people').values({ name: 'c' }).execute()
  await sp2.releaseSavepoint('before_c').execute()
  await trx.commit().execute()
  t.same(await names(admin, TABLE), ['a', 'c'])
  const trx2 = await db.startTransaction().execute()
  await trx2.insertInto('ky_people').values({ name: 'd' }).execute()
  await trx2.rollback().execute()
  t.same(await names(admin, TABLE), ['a', 'c'])
  t.equal(facade.stats().checkedOut, 0)
})

t.test('transaction settings: read only is enforced, isolation is checked, not on a savepoint', async (t) => {
  const { facade, admin } = await fixture(t, TABLE)
  const db = kysely<Database>(facade)
  await t.rejects(db.transaction().setAccessMode('read only').execute(async (trx) => {
    await trx.insertInto('ky_people').values({ name: 'x' }).execute()
  }), { code: 'FST_DB_QUERY_FAILED', errno: 1792 }, 'a write in a READ ONLY transaction fails')
  const level = await db.transaction().setIsolationLevel('serializable').execute(async (trx) =>
    (await sql<{ n: number }>`SELECT COUNT(*) AS n FROM ky_people`.execute(trx)).rows[0].n)
  t.equal(Number(level), 0)
  await t.rejects(db.transaction().setIsolationLevel('snapshot').execute(async () => {}), InvalidOptionError)
  const session = facade.session({ transaction: true })
  t.teardown(() => session.close())
  const nested = kysely<Database>(sourceWith(facade, () => session))
  await t.rejects(nested.transaction().setIsolationLevel('read committed').execute(async () => {}), TransactionStateError)
  t.same(await names(admin, TABLE), [])
  t.equal(facade.stats().checkedOut, 0, 'refused before the lazy session took a connection')
})

t.test('a failed BEGIN surfaces as the transaction error and returns the connection', async (t) => {
  const { facade } = await fixture(t, TABLE)
  const session = facade.session()
  await session.close() // closed: every statement, BEGIN included, throws
  const db = kysely<Database>(sourceWith(facade, () => session))
  await t.rejects(db.transaction().execute(async () => 1), { code: 'FST_DB_SESSION_CLOSED' })
  t.equal(facade.stats().checkedOut, 0)
})

t.test('destroy() leaves the app\'s pool alone; a wrong argument is a TypeError', async (t) => {
  const { facade } = await fixture(t, TABLE)
  const db = kysely<Database>(facade)
  await db.destroy()
  t.equal((await facade.query('SELECT 1 AS one'))[0] !== undefined, true, 'pool still usable')
  const again = kysely<Database>(facade)
  t.same((await sql<{ one: number }>`SELECT 1 AS one`.execute(again)).rows, [{ one: 1 }])
  t.throws(() => kysely({} as never), TypeError)
  // The introspector is Kysely's own MySQL one, on our driver.
  const tables = await again.introspection.getTables()
  t.ok(tables.some((tb) => tb.name === TABLE), 'introspection lists the table')
})
