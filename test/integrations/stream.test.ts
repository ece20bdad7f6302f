/**
 * Streaming through the builders: Kysely's `stream()` and Drizzle's `iterator()` run on the
 * session's `stream()`, with back-pressure; the connection is held while the rows flow and given
 * back when they end, when the loop breaks early, or when the statement fails.
 */
import t, { type Test } from 'tap'
import { sql as ksql, type Generated } from 'kysely'
import { int, mysqlTable, varchar } from 'drizzle-orm/mysql-core'
import { kysely } from '../../lib/kysely'
import { drizzle } from '../../lib/drizzle'
import { connectionId, runningStatement } from '../helpers/db'
import { until } from '../helpers/pool'
import { fixture, sourceWith } from './_helpers'
import { buildApp, tableNames } from '../plugin/_helpers'

const TABLE = 'stream_rows'
interface Database { stream_rows: { id: Generated<number>, name: string } }
const rows = mysqlTable(TABLE, { id: int('id').primaryKey().autoincrement(), name: varchar('name', { length: 100 }).notNull() })
const N = 2000

async function seeded (t: Test): Promise<Awaited<ReturnType<typeof fixture>>> {
  const fx = await fixture(t, TABLE)
  await fx.admin.query(`INSERT INTO ${TABLE} (name) SELECT CONCAT('row ', seq) FROM seq_1_to_${N}`)
  return fx
}

t.test('Kysely stream() outside a request: every row, one connection held while streaming, then returned', async (t) => {
  const { facade, pool } = await seeded(t)
  const db = kysely<Database>(sourceWith(facade, () => undefined))
  let n = 0
  let heldDuring = -1
  for await (const row of db.selectFrom(TABLE).select(['id', 'name']).orderBy('id').stream()) {
    if (n === 100) heldDuring = pool.stats().checkedOut
    t.equal(row.name, `row ${row.id}`)
    n++
  }
  t.equal(n, N)
  t.equal(heldDuring, 1, 'one connection while the rows flow')
  await until(() => pool.stats().checkedOut === 0, 2000, 'the connection back')
  t.equal(pool.stats().checkedOut, 0)
})

t.test('Kysely stream(): breaking out early gives the connection back and stops the statement', async (t) => {
  const { facade, pool, admin } = await seeded(t)
  const db = kysely<Database>(sourceWith(facade, () => undefined))
  let id = 0
  let n = 0
  // 4 million rows: far more than will be read.
  const big = db.selectFrom([`${TABLE} as a`, `${TABLE} as b`]).select(['a.id', ksql<number>`CONNECTION_ID()`.as('cid')])
  for await (const row of big.stream()) {
    id = Number(row.cid)
    if (++n >= 10) break
  }
  await until(() => pool.stats().checkedOut === 0, 3000, 'the connection back after break')
  t.notOk(await runningStatement(admin, id, 'select'), 'the statement is not left running')
  const after = await facade.query('SELECT 1 AS one')
  t.ok(after, 'the pool serves the next statement')
})

t.test('Kysely stream() on a current session: same connection, sees the session\'s uncommitted rows', async (t) => {
  const { facade, pool } = await seeded(t)
  const session = facade.session({ transaction: true })
  t.teardown(() => session.close())
  const db = kysely<Database>(sourceWith(facade, () => session))
  await db.insertInto(TABLE).values({ name: 'uncommitted' }).execute()
  const mine = await connectionId(session)
  let last: { name: string, id: number } | undefined
  let count = 0
  for await (const row of db.selectFrom(TABLE).select(['name', ksql<number>`CONNECTION_ID()`.as('id')]).orderBy(`${TABLE}.id`).stream()) {
    last = row
    count++
  }
  t.equal(count, N + 1)
  t.same(last, { name: 'uncommitted', id: mine })
  t.equal(pool.stats().checkedOut, 1, 'the session keeps its connection')
})

t.test('Drizzle iterator(): outside a request and on a current session', async (t) => {
  const { facade, pool } = await seeded(t)
  const outside = drizzle(sourceWith(facade, () => undefined))
  let n = 0
  for await (const row of outside.select().from(rows).iterator()) {
    t.equal(row.name, `row ${row.id}`)
    n++
  }
  t.equal(n, N)
  await until(() => pool.stats().checkedOut === 0, 2000, 'the connection back')
  const session = facade.session()
  t.teardown(() => session.close())
  const inside = drizzle(sourceWith(facade, () => session))
  let m = 0
  for await (const row of inside.select({ id: rows.id }).from(rows).iterator()) {
    if (++m === 5) break
    t.type(row.id, 'number')
  }
  t.equal(m, 5)
  t.equal((await session.query('SELECT 1'))[0] !== undefined, true, 'the session is usable after the early break')
  await session.close()
  t.equal(pool.stats().checkedOut, 0)
})

t.test('inside a request: Kysely stream() and Drizzle iterator() run on the request\'s connection', async (t) => {
  const { admin } = await seeded(t)
  const { app } = await buildApp(t, {
    setup (app) {
      const k = kysely<Database>(app.db)
      const d = drizzle(app.db)
      app.get('/streamed', { config: { db: { transaction: true } } }, async (request) => {
        await k.insertInto(TABLE).values({ name: 'uncommitted' }).execute()
        const ids = new Set<number>()
        let kyselyRows = 0
        for await (const row of k.selectFrom(TABLE).select(['name', ksql<number>`CONNECTION_ID()`.as('cid')]).stream()) {
          ids.add(Number(row.cid))
          kyselyRows++
        }
        let drizzleRows = 0
        for await (const row of d.select({ id: rows.id }).from(rows).iterator()) {
          if (row.id > 0) drizzleRows++
        }
        return { kyselyRows, drizzleRows, ids: [...ids], mine: await connectionId(request.db) }
      })
    }
  })
  const res = await app.inject('/streamed')
  t.equal(res.statusCode, 200)
  const body = res.json() as { kyselyRows: number, drizzleRows: number, ids: number[], mine: number }
  t.same(body, { kyselyRows: N + 1, drizzleRows: N + 1, ids: [body.mine], mine: body.mine }, 'every row, the uncommitted one too, on the request\'s connection')
  t.equal(app.db.stats().checkedOut, 0)
  t.equal(await tableNames(admin, TABLE).then((n) => n.length), N + 1, 'committed with the request')
})
