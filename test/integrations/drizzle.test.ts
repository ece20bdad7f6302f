/**
 * The Drizzle integration against the real database, without Fastify: statements outside a
 * request check out and return; with a current session everything runs on its connection;
 * db.transaction() is a real transaction or a savepoint inside one; relational queries work.
 */
import t, { type Test } from 'tap'
import { eq, relations, sql } from 'drizzle-orm'
import { int, mysqlTable, varchar } from 'drizzle-orm/mysql-core'
import { TransactionStateError } from '../../lib'
import { drizzle } from '../../lib/drizzle'
import { connectionId } from '../helpers/db'
import { fixture, names, sourceWith } from './_helpers'

const users = mysqlTable('dz_users', {
  id: int('id').primaryKey().autoincrement(),
  name: varchar('name', { length: 100 }).notNull()
})
const posts = mysqlTable('dz_posts', {
  id: int('id').primaryKey().autoincrement(),
  userId: int('user_id').notNull(),
  title: varchar('title', { length: 100 }).notNull()
})
const usersRelations = relations(users, ({ many }) => ({ posts: many(posts) }))
const postsRelations = relations(posts, ({ one }) => ({ author: one(users, { fields: [posts.userId], references: [users.id] }) }))
const schema = { users, posts, usersRelations, postsRelations }

const TABLE = 'dz_users'

async function withPosts (t: Test, admin: import('mysql2/promise').Connection): Promise<void> {
  await admin.query('DROP TABLE IF EXISTS dz_posts')
  await admin.query('CREATE TABLE dz_posts (id INT AUTO_INCREMENT PRIMARY KEY, user_id INT NOT NULL, title VARCHAR(100) NOT NULL) ENGINE=InnoDB')
  t.teardown(() => admin.query('DROP TABLE IF EXISTS dz_posts'))
}

t.test('outside a request: each statement checks out and returns; results map as Drizzle expects', async (t) => {
  const { facade, pool, admin } = await fixture(t, TABLE)
  const db = drizzle(facade, { schema })
  const before = pool.stats().checkouts
  const [header] = await db.insert(users).values([{ name: 'ada' }, { name: 'bob' }])
  t.equal(header.affectedRows, 2)
  const ids = await db.insert(users).values({ name: 'cy' }).$returningId()
  t.equal(ids.length, 1)
  t.type(ids[0].id, 'number')
  const rows = await db.select().from(users).where(eq(users.name, 'bob'))
  t.match(rows, [{ id: Number, name: 'bob' }])
  await db.update(users).set({ name: 'bo' }).where(eq(users.name, 'bob'))
  t.same(await names(admin, TABLE), ['ada', 'bo', 'cy'], 'autocommitted')
  t.equal(pool.stats().checkouts - before, 4, 'one checkout per statement')
  t.equal(pool.stats().checkedOut, 0)
})

t.test('outside a request: db.transaction() commits, rolls back on throw, nests as savepoints', async (t) => {
  const { facade, pool, admin } = await fixture(t, TABLE)
  const db = drizzle(facade)
  await db.transaction(async (tx) => {
    await tx.insert(users).values({ name: 'outer' })
    const [rows] = await tx.execute(sql`SELECT @@in_transaction AS t`) as unknown as [Array<{ t: number }>]
    t.equal(Number(rows[0].t), 1, 'inside a transaction')
    t.same(await names(admin, TABLE), [], 'not visible before the commit')
    await t.rejects(tx.transaction(async (inner) => {
      await inner.insert(users).values({ name: 'inner, undone' })
      throw new Error('undo the savepoint only')
    }))
    await tx.transaction(async (inner) => {
      await inner.insert(users).values({ name: 'inner, kept' })
    })
    t.equal(pool.stats().checkedOut, 1, 'the whole transaction on one connection')
  })
  t.same(await names(admin, TABLE), ['outer', 'inner, kept'])
  await t.rejects(db.transaction(async (tx) => {
    await tx.insert(users).values({ name: 'gone' })
    throw new Error('boom')
  }), { message: 'boom' })
  t.same(await names(admin, TABLE), ['outer', 'inner, kept'], 'rolled back')
  await t.resolves(db.transaction(async (tx) => { tx.rollback() }).catch((err: Error) => {
    t.match(err.message, /Rollback/, 'tx.rollback() throws Drizzle\'s TransactionRollbackError')
  }))
  t.same(await names(admin, TABLE), ['outer', 'inner, kept'])
  // Connections go back when Drizzle releases them (it does not await that).
  await new Promise((resolve) => setTimeout(resolve, 50))
  t.equal(pool.stats().checkedOut, 0)
})

t.test('with a current session: same connection, and db.transaction() is a savepoint of its transaction', async (t) => {
  const { facade, pool, admin } = await fixture(t, TABLE)
  const session = facade.session({ transaction: true })
  t.teardown(() => session.close())
  const db = drizzle(sourceWith(facade, () => session))
  const mine = await connectionId(session)
  const [rows] = await db.execute(sql`SELECT CONNECTION_ID() AS id`) as unknown as [Array<{ id: number }>]
  t.equal(Number(rows[0].id), mine, 'Drizzle runs on the session\'s connection')
  await db.insert(users).values({ name: 'outer' })
  await t.rejects(db.transaction(async (tx) => {
    await tx.insert(users).values({ name: 'undone' })
    throw new Error('undo this part')
  }))
  await db.transaction(async (tx) => {
    await tx.insert(users).values({ name: 'kept' })
    await tx.transaction(async (inner) => { await inner.insert(users).values({ name: 'deeper' }) })
  })
  t.ok(session.inTransaction, 'Drizzle\'s COMMIT did not end the unit of work')
  t.same(await names(admin, TABLE), [], 'nothing committed yet')
  t.equal(pool.stats().checkedOut, 1)
  // Drizzle wraps every failed statement in DrizzleQueryError (its message has the SQL); ours is the cause.
  await t.rejects(db.transaction(async () => {}, { isolationLevel: 'serializable' }), { cause: TransactionStateError },
    'an isolation level cannot apply to a savepoint')
  await session.commit()
  t.same(await names(admin, TABLE), ['outer', 'kept', 'deeper'])
})

t.test('transaction config: read only and isolation level on a top-level transaction', async (t) => {
  const { facade, admin } = await fixture(t, TABLE)
  const db = drizzle(facade)
  await t.rejects(db.transaction(async (tx) => {
    await tx.insert(users).values({ name: 'x' })
  }, { isolationLevel: 'repeatable read', accessMode: 'read only' }), { cause: { code: 'FST_DB_QUERY_FAILED', errno: 1792 } })
  const n = await db.transaction(async (tx) => (await tx.select().from(users)).length, { isolationLevel: 'read committed', accessMode: 'read write' })
  t.equal(n, 0)
  t.same(await names(admin, TABLE), [])
})

t.test('relational queries with a schema (mode defaults to one without LATERAL joins, which MariaDB lacks)', async (t) => {
  const { facade, admin } = await fixture(t, TABLE)
  await withPosts(t, admin)
  const db = drizzle(facade, { schema })
  const [{ id }] = await db.insert(users).values({ name: 'ada' }).$returningId()
  await db.insert(posts).values([{ userId: id, title: 'one' }, { userId: id, title: 'two' }])
  const found = await db.query.users.findMany({ with: { posts: { columns: { title: true } } } })
  t.same(found, [{ id, name: 'ada', posts: [{ title: 'one' }, { title: 'two' }] }])
  const post = await db.query.posts.findFirst({ where: eq(posts.title, 'two') })
  t.match(post, { title: 'two', userId: id })
  t.equal(facade.stats().checkedOut, 0)
  const [version] = await admin.query<import('mysql2').RowDataPacket[]>('SELECT VERSION() AS v')
  if (/mariadb/i.test(String(version[0].v))) {
    const lateral = drizzle(facade, { schema, mode: 'default' })
    await t.rejects(lateral.query.users.findMany({ with: { posts: true } }), { cause: { code: 'FST_DB_QUERY_FAILED' } },
      'mode "default" uses LATERAL, a syntax error on MariaDB: why it is not our default')
  }
  t.throws(() => drizzle({} as never), TypeError)
})
