/**
 * The prepared-statement budget: the per-connection cache is capped (mysql2's LRU closes evicted
 * statements on the server), so the server's Prepared_stmt_count stays under cap × connections;
 * and a pool that could exceed max_prepared_stmt_count is reported at first connect.
 */
import t from 'tap'
import type { RowDataPacket } from 'mysql2'
import { resolvePluginOptions } from '../../lib/options'
import { DEFAULT_MAX_PREPARED_STATEMENTS, poolConnectionLimit, statementBudgetWarning } from '../../lib/pool/statement-budget'
import { admin, until } from '../helpers/pool'
import { startPrivateServer } from '../helpers/private-server'
import { buildApp } from './_helpers'

async function preparedCount (db: Awaited<ReturnType<typeof admin>>): Promise<number> {
  const [rows] = await db.query<RowDataPacket[]>("SHOW GLOBAL STATUS LIKE 'Prepared_stmt_count'")
  return Number(rows[0].Value)
}

/** Holds `connections` sessions at once and runs `distinct` different prepared statements on each. */
async function fill (app: Awaited<ReturnType<typeof buildApp>>['app'], connections: number, distinct: number): Promise<void> {
  const sessions = Array.from({ length: connections }, () => app.db.session())
  for (const s of sessions) await s.query('SELECT 1') // each takes its own connection
  for (let i = 0; i < distinct; i++) {
    for (const s of sessions) await s.execute(`SELECT ? + ${i} AS n`, [i])
  }
  for (const s of sessions) await s.close()
}

t.test('Prepared_stmt_count stays within cap × connections', async (t) => {
  // Prepared_stmt_count is server-wide: on the shared server, other test files running alongside
  // prepare and free statements too. A server of its own counts only this test's.
  const server = await startPrivateServer()
  t.teardown(() => server.remove())
  const db = await admin(t, server.url)
  const baseline = await preparedCount(db)
  const capped = await buildApp(t, { plugin: { connection: server.url, poolSize: 2, maxPreparedStatements: 3 } })
  await fill(capped.app, 2, 20)
  // COM_STMT_CLOSE has no reply: the evicted statements are freed when the server gets to them.
  await until(async () => await preparedCount(db) - baseline <= 3 * 2, 5000, 'the evicted statements freed')
  const withCap = await preparedCount(db) - baseline
  t.ok(withCap <= 3 * 2, `at most 3 × 2 statements prepared on the server (saw ${withCap})`)
  t.ok(withCap >= 2, 'the cache is used (statements are kept up to the cap)')
  // The same work without a small cap keeps every statement: the cap is what made the difference.
  const uncapped = await buildApp(t, { plugin: { connection: server.url, poolSize: 2, maxPreparedStatements: 1000 } })
  await fill(uncapped.app, 2, 20)
  t.equal(await preparedCount(db) - baseline - withCap, 40, 'uncapped: 20 × 2 kept')
  await uncapped.app.close()
  await capped.app.close()
  await until(async () => await preparedCount(db) === baseline, 5000, 'the statements of the closed connections freed')
  t.equal(await preparedCount(db), baseline, 'closing the connections frees them all')
})

t.test('a pool that could exceed max_prepared_stmt_count is reported at first connect', async (t) => {
  const db = await admin(t)
  const [rows] = await db.query<RowDataPacket[]>('SELECT @@GLOBAL.max_prepared_stmt_count AS m')
  const serverMax = Number(rows[0].m)
  const { app, logs } = await buildApp(t, {
    plugin: { poolSize: 10, maxOverflow: 10, maxPreparedStatements: Math.ceil(serverMax / 20) + 1 },
    setup (app) { app.get('/', async (request) => (await request.db.query('SELECT 1'))[0]) }
  })
  await app.inject('/')
  await app.inject('/')
  const warnings = logs.filter((l) => typeof l.msg === 'string' && l.msg.startsWith('Prepared statement budget'))
  t.equal(warnings.length, 1, 'reported once')
  t.match(warnings[0], { level: 40, poolMax: 20, maxPreparedStmtCount: serverMax })
  const fine = await buildApp(t, { setup (app) { app.get('/', async (request) => (await request.db.query('SELECT 1'))[0]) } })
  await fine.app.inject('/')
  t.notOk(fine.logs.some((l) => String(l.msg).startsWith('Prepared statement budget')), 'the defaults fit the default server limit')
})

t.test('the budget arithmetic and the option', async (t) => {
  t.equal(poolConnectionLimit(5, 10), 15)
  t.equal(poolConnectionLimit(0, 10), Infinity)
  t.equal(poolConnectionLimit(5, -1), Infinity)
  t.equal(statementBudgetWarning({ poolMax: 15, perConnection: DEFAULT_MAX_PREPARED_STATEMENTS, serverMax: 16382 }), undefined)
  t.match(statementBudgetWarning({ poolMax: 15, perConnection: 2000, serverMax: 16382 }), /15 connections × 2000 cached prepared statements \(30000\), more than the server's max_prepared_stmt_count \(16382\)/)
  t.match(statementBudgetWarning({ poolMax: Infinity, perConnection: 1, serverMax: 16382 }), /an unbounded number of connections × 1 .*\(unbounded\)/)
  t.equal(resolvePluginOptions({ connection: 'mysql://u@h/db' }).maxPreparedStatements, DEFAULT_MAX_PREPARED_STATEMENTS)
  t.throws(() => resolvePluginOptions({ connection: 'mysql://u@h/db', maxPreparedStatements: 0 }), { code: 'FST_DB_INVALID_OPTION', message: /maxPreparedStatements: expected an integer >= 1/ })
})
