/**
 * Scenario 8 — data safety: a transactional route that throws after writing leaves no row; a
 * commit that fails (the session's thread KILLed just before commit) never answers 2xx; and 500
 * concurrent transfers (SELECT ... FOR UPDATE, 32 at once, some failing halfway) keep the total.
 */
import t from 'tap'
import type mysql from 'mysql2/promise'
import { databaseUrl, killThread } from '../helpers/db'
import { keepAliveAgent, recordResult, runLoad, send } from '../helpers/http-load'
import { admin } from '../helpers/pool'
import { startApp } from './support'

t.setTimeout(110_000)

const TABLE = 'rel_data_rows'
const ACCOUNTS = 'rel_data_accounts'
const N_ACCOUNTS = 10
const START_BALANCE = 1000

t.before(async () => {
  const a = await admin(t)
  await a.query(`CREATE TABLE IF NOT EXISTS ${TABLE} (id INT AUTO_INCREMENT PRIMARY KEY, tag VARCHAR(20) NOT NULL) ENGINE=InnoDB`)
  await a.query(`CREATE TABLE IF NOT EXISTS ${ACCOUNTS} (id INT PRIMARY KEY, balance INT NOT NULL) ENGINE=InnoDB`)
})
t.teardown(async () => {
  const a = await admin(t)
  await a.query(`DROP TABLE IF EXISTS ${TABLE}, ${ACCOUNTS}`)
})

async function count (a: mysql.Connection, tag: string): Promise<number> {
  const [r] = await a.query<mysql.RowDataPacket[]>(`SELECT COUNT(*) AS n FROM ${TABLE} WHERE tag = ?`, [tag])
  return Number(r[0].n)
}

t.test('a transactional POST with a JSON body commits (the session outlives body parsing)', async (t) => {
  // Regression guard: IncomingMessage emits 'close' as soon as a request body is consumed, so a
  // session closed on the request's 'close' dies mid-handler on every POST/PUT with a body.
  const a = await admin(t)
  const { url } = await startApp(t, { connection: await databaseUrl(), poolSize: 2 }, (app) => {
    app.post('/write', { config: { db: { transaction: true } } }, async (request) => {
      await request.db.query(`INSERT INTO ${TABLE} (tag) VALUES ('post-body')`)
      await request.db.query('SELECT SLEEP(0.02)')
      await request.db.query(`INSERT INTO ${TABLE} (tag) VALUES ('post-body')`)
      return { ok: true }
    })
  })
  const agent = keepAliveAgent(4)
  const res = await runLoad(url, { total: 20, concurrency: 4, agent, make: () => ({ kind: 'post', method: 'POST', path: '/write', body: { hello: 'world' }, expect: [200] }) })
  agent.destroy()
  t.equal(res.failures, 0, `every POST with a body commits (${JSON.stringify(res.samples)})`)
  t.equal(await count(a, 'post-body'), 40, 'both rows of every request are there')
})

t.test('transactional routes that throw after writing leave no row', async (t) => {
  const a = await admin(t)
  const { url } = await startApp(t, { connection: await databaseUrl(), poolSize: 4 }, (app) => {
    app.get('/fail', { config: { db: { transaction: true } } }, async (request) => {
      await request.db.query(`INSERT INTO ${TABLE} (tag) VALUES ('thrown')`)
      await request.db.query(`INSERT INTO ${TABLE} (tag) VALUES ('thrown')`)
      throw new Error('after writing')
    })
  })
  const agent = keepAliveAgent(8)
  const res = await runLoad(url, { total: 200, concurrency: 8, agent, make: () => ({ kind: 'fail', path: '/fail', expect: [500] }) })
  agent.destroy()
  t.equal(res.failures, 0, 'every one answers 500')
  const rows = await count(a, 'thrown')
  t.equal(rows, 0, 'no row survived')
  recordResult('data-safety', { case: 'throw after writing', requests: res.requests, failures: res.failures, leaks: rows, rowsLeft: rows })
})

t.test('a commit that fails never answers 2xx', async (t) => {
  const a = await admin(t)
  const killer = await admin(t)
  const { url, app } = await startApp(t, { connection: await databaseUrl(), poolSize: 2 }, (app) => {
    app.get('/killed-before-commit', { config: { db: { transaction: true } } }, async (request) => {
      await request.db.query(`INSERT INTO ${TABLE} (tag) VALUES ('uncommitted')`)
      const [r] = await request.db.query<mysql.RowDataPacket[]>('SELECT CONNECTION_ID() AS id')
      await killThread(killer, Number(r[0].id)) // the server drops us right before COMMIT
      return { ok: true }
    })
  })
  const agent = keepAliveAgent(1)
  const statuses: Record<string, number> = {}
  const N = 20
  for (let i = 0; i < N; i++) {
    const r = await send(url, agent, { path: '/killed-before-commit' })
    statuses[String(r.status)] = (statuses[String(r.status)] ?? 0) + 1
    t.ok(typeof r.status === 'number' && (r.status < 200 || r.status >= 300), `never a 2xx (got ${r.status}: ${r.body.slice(0, 200)})`)
  }
  agent.destroy()
  const rows = await count(a, 'uncommitted')
  t.equal(rows, 0, 'nothing was committed')
  t.equal(app.db.stats().checkedOut, 0)
  recordResult('data-safety', { case: 'commit fails (thread killed before COMMIT)', requests: N, failures: N - (statuses['200'] ?? 0), twoXX: statuses['200'] ?? 0, statuses, leaks: rows })
})

t.test('500 concurrent transfers keep the total', async (t) => {
  const a = await admin(t)
  await a.query(`DELETE FROM ${ACCOUNTS}`)
  for (let i = 1; i <= N_ACCOUNTS; i++) await a.query(`INSERT INTO ${ACCOUNTS} VALUES (?, ?)`, [i, START_BALANCE])
  const { url, app } = await startApp(t, { connection: await databaseUrl(), poolSize: 10, maxOverflow: 10 }, (app) => {
    app.post('/transfer', { config: { db: { transaction: true } } }, async (request, reply) => {
      const { from, to, amount, fail } = request.body as { from: number, to: number, amount: number, fail: boolean }
      // Lock both rows in id order: no deadlock between opposite transfers.
      const [rows] = await request.db.query<mysql.RowDataPacket[]>(
        `SELECT id, balance FROM ${ACCOUNTS} WHERE id IN (?, ?) ORDER BY id FOR UPDATE`, [from, to])
      const balance = Number(rows.find((r) => Number(r.id) === from)?.balance)
      if (balance < amount) return reply.code(409).send({ error: 'insufficient funds' })
      await request.db.query(`UPDATE ${ACCOUNTS} SET balance = balance - ? WHERE id = ?`, [amount, from])
      if (fail) throw new Error('failed between debit and credit')
      await request.db.query(`UPDATE ${ACCOUNTS} SET balance = balance + ? WHERE id = ?`, [amount, to])
      return { ok: true }
    })
  })
  const agent = keepAliveAgent(32)
  const res = await runLoad(url, {
    total: 500,
    concurrency: 32,
    agent,
    make: (i) => {
      const from = (i * 7) % N_ACCOUNTS + 1
      const to = (from + 1 + (i % (N_ACCOUNTS - 1))) % N_ACCOUNTS + 1
      return { kind: 'transfer', method: 'POST', path: '/transfer', body: { from, to: to === from ? (from % N_ACCOUNTS) + 1 : to, amount: 1 + (i % 300), fail: i % 10 === 3 }, expect: i % 10 === 3 ? [500, 409] : [200, 409] }
    }
  })
  agent.destroy()
  const [sumRows] = await a.query<mysql.RowDataPacket[]>(`SELECT SUM(balance) AS total, MIN(balance) AS low FROM ${ACCOUNTS}`)
  const total = Number(sumRows[0].total)
  t.equal(res.failures, 0, `each transfer answered as expected (${JSON.stringify(res.byKind.transfer.statuses)} ${JSON.stringify(res.samples)})`)
  t.equal(total, N_ACCOUNTS * START_BALANCE, 'the total is unchanged')
  t.ok(Number(sumRows[0].low) >= 0, 'no balance went negative')
  t.equal(app.db.stats().checkedOut, 0)
  recordResult('data-safety', {
    case: '500 transfers, 32 concurrent, 10% fail halfway',
    requests: res.requests,
    failures: res.failures,
    statuses: res.byKind.transfer.statuses,
    totalBefore: N_ACCOUNTS * START_BALANCE,
    totalAfter: total,
    leaks: Math.abs(total - N_ACCOUNTS * START_BALANCE)
  })
})
