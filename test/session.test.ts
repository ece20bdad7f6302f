/**
 * Session on its own (no Fastify): lazy checkout, exactly-once return, close semantics,
 * transactions and the unit-of-work mode, against a real QueuePool.
 */
import t from 'tap'
import type { RowDataPacket } from 'mysql2'
import { QueuePool, Session, SessionClosedError, TransactionStateError } from '../lib'
import { connectionId, killThread, runningStatement } from './helpers/db'
import { admin, realPool, sleep, until } from './helpers/pool'
import { activeTransactionThreads } from './helpers/db'

const TABLE = 'session_unit_items'

/** Open transactions on this pool's connections only (the server is shared with parallel tests). */
function trackTransactions (pool: QueuePool, db: import('mysql2/promise').Connection): () => Promise<number> {
  const ids = new Set<number>()
  pool.on('connect', (conn) => { ids.add(conn.threadId) })
  return async () => [...await activeTransactionThreads(db)].filter((id) => ids.has(id)).length
}

t.test('session', async (t) => {
  const db = await admin(t)
  await db.query(`DROP TABLE IF EXISTS ${TABLE}`)
  await db.query(`CREATE TABLE ${TABLE} (id INT AUTO_INCREMENT PRIMARY KEY, name VARCHAR(50) NOT NULL) ENGINE=InnoDB`)
  t.teardown(() => db.query(`DROP TABLE IF EXISTS ${TABLE}`))
  t.beforeEach(async () => { await db.query(`DELETE FROM ${TABLE}`) })
  const rows = async (): Promise<string[]> => {
    const [r] = await db.query<RowDataPacket[]>(`SELECT name FROM ${TABLE} ORDER BY id`)
    return r.map((x) => String(x.name))
  }

  t.test('lazy: no checkout until the first statement; one connection; returned once', async (t) => {
    const pool = await realPool(t, QueuePool, { poolSize: 2 })
    const events = { checkout: 0, checkin: 0 }
    pool.on('checkout', () => { events.checkout++ })
    pool.on('checkin', () => { events.checkin++ })
    const s = new Session(pool)
    t.equal(s.hasConnection, false)
    t.equal(pool.stats().checkouts, 0)
    const a = await connectionId(s)
    t.equal(s.hasConnection, true)
    const b = await connectionId(s)
    t.equal(a, b)
    t.equal(pool.checkedout(), 1)
    const p1 = s.close()
    const p2 = s.close()
    t.equal(p1, p2, 'close() is idempotent (same promise)')
    await p1
    t.equal(s.closed, true)
    t.equal(pool.checkedout(), 0)
    t.same(events, { checkout: 1, checkin: 1 })
    await t.rejects(s.query('SELECT 1'), SessionClosedError)
    t.same(events, { checkout: 1, checkin: 1 }, 'no new checkout after close')
  })

  t.test('closing a session that never ran a statement takes no connection', async (t) => {
    const pool = await realPool(t, QueuePool)
    const s = new Session(pool)
    await s.close()
    t.equal(pool.stats().checkouts, 0)
    await t.rejects(s.begin(), { code: 'FST_DB_SESSION_CLOSED' })
  })

  t.test('concurrent first statements share one checkout', async (t) => {
    const pool = await realPool(t, QueuePool)
    const s = new Session(pool)
    const ids = await Promise.all([connectionId(s), connectionId(s), connectionId(s)])
    t.equal(new Set(ids).size, 1)
    t.equal(pool.stats().checkouts, 1)
    await s.close()
    t.equal(pool.checkedout(), 0)
  })

  t.test('stats: queries, waitMs, heldMs', async (t) => {
    const pool = await realPool(t, QueuePool, { poolSize: 1, maxOverflow: 0 })
    const holder = await pool.connect()
    const s = new Session(pool)
    const q = s.query('SELECT 1')
    await sleep(150)
    await holder.close()
    await q
    await sleep(100)
    const st = s.stats()
    t.equal(st.queries, 1)
    t.ok(st.waitMs >= 140 && st.waitMs < 2000, `waitMs ${st.waitMs}`)
    t.ok(st.heldMs >= 90, `heldMs ${st.heldMs} still counting while held`)
    await s.close()
    const held = s.stats().heldMs
    await sleep(50)
    t.equal(s.stats().heldMs, held, 'heldMs stops at close')
    t.same({ commits: s.stats().commits, rollbacks: s.stats().rollbacks }, { commits: 0, rollbacks: 0 }, 'no transaction: none committed or rolled back')
  })

  t.test('stats: commits and rollbacks count how each transaction ended', async (t) => {
    const pool = await realPool(t, QueuePool)
    const s = new Session(pool)
    const ended = (): { commits: number, rollbacks: number } => ({ commits: s.stats().commits, rollbacks: s.stats().rollbacks })
    await s.begin()
    await s.commit()
    t.same(ended(), { commits: 1, rollbacks: 0 }, 'begin + commit')
    await s.commit()
    await s.rollback()
    t.same(ended(), { commits: 1, rollbacks: 0 }, 'commit() and rollback() without a transaction count nothing')
    await s.begin()
    await s.rollback()
    t.same(ended(), { commits: 1, rollbacks: 1 }, 'begin + rollback')
    await s.transaction(async () => {
      // A savepoint rolled back is not a transaction that ended.
      await s.transaction(async () => { throw new Error('inner') }).catch(() => undefined)
    })
    t.same(ended(), { commits: 2, rollbacks: 1 }, 'transaction(fn) resolved, a savepoint inside rolled back: one commit')
    await s.transaction(async () => { throw new Error('outer') }).catch(() => undefined)
    t.same(ended(), { commits: 2, rollbacks: 2 }, 'transaction(fn) that throws: rolled back')
    await s.begin()
    await s.close()
    t.same(ended(), { commits: 2, rollbacks: 3 }, 'closed with a transaction open: rolled back')
    const uow = new Session(pool, { transaction: true })
    await uow.query('SELECT 1')
    await uow.close()
    t.same({ commits: uow.stats().commits, rollbacks: uow.stats().rollbacks }, { commits: 0, rollbacks: 1 }, 'a unit of work closed without commit: rolled back')
  })

  t.test('closing with a statement in flight: the statement is killed, the connection reset and kept', async (t) => {
    const pool = await realPool(t, QueuePool)
    const s = new Session(pool)
    const id = await connectionId(s)
    await s.query('CREATE TEMPORARY TABLE inflight_probe (x INT)')
    await s.begin()
    await s.query('INSERT INTO inflight_probe VALUES (1)')
    const t0 = Date.now()
    const running = s.query('SELECT SLEEP(3)').then(() => null, (e: unknown) => e)
    await sleep(100)
    await s.close()
    const err = await running
    t.ok(err instanceof SessionClosedError, 'the in-flight statement rejects with SessionClosedError instead of hanging')
    t.ok(Date.now() - t0 < 1500, 'at once, not when SLEEP(3) ends')
    t.equal(pool.checkedout(), 0)
    t.notOk(await runningStatement(db, id, 'SELECT SLEEP(3)'), 'the statement was killed on the server')
    t.equal(pool.stats().invalidations, 0, 'kept, not destroyed')
    const conn = await pool.connect()
    t.teardown(() => conn.close())
    const [rows] = await conn.query<RowDataPacket[]>('SELECT CONNECTION_ID() AS id, (SELECT COUNT(*) FROM inflight_probe) AS n')
    t.equal(Number(rows[0].id), id, 'the same connection is handed out again')
    t.equal(Number(rows[0].n), 0, 'its open transaction was rolled back before reuse')
  })

  t.test('closing with a statement in flight, killAbandoned off: the connection is destroyed and the statement fails at once', async (t) => {
    const pool = await realPool(t, QueuePool, { killAbandoned: false })
    const s = new Session(pool)
    await connectionId(s)
    const t0 = Date.now()
    const running = s.query('SELECT SLEEP(2)').then(() => null, (e: unknown) => e)
    await sleep(100)
    await s.close()
    const err = await running
    t.ok(err instanceof SessionClosedError, 'the in-flight statement rejects with SessionClosedError instead of hanging')
    t.ok(Date.now() - t0 < 1000, 'at once')
    t.equal(pool.checkedout(), 0)
    t.equal(pool.stats().invalidations, 1, 'destroyed, not returned')
  })

  t.test('transactions: begin/commit/rollback, transaction(fn), savepoints, close rolls back', async (t) => {
    const pool = await realPool(t, QueuePool)
    const trx = trackTransactions(pool, db)
    const s = new Session(pool)
    t.teardown(() => s.close())
    await s.begin()
    await t.rejects(s.begin(), TransactionStateError)
    await s.query(`INSERT INTO ${TABLE} (name) VALUES ('a')`)
    await s.commit()
    await s.commit() // nothing open: no-op
    await s.begin()
    await s.query(`INSERT INTO ${TABLE} (name) VALUES ('b')`)
    await s.rollback()
    t.same(await rows(), ['a'])
    const r = await s.transaction(async (tx) => {
      await tx.query(`INSERT INTO ${TABLE} (name) VALUES ('c')`)
      await tx.transaction(async (inner) => {
        await inner.query(`INSERT INTO ${TABLE} (name) VALUES ('d')`)
        throw new Error('inner')
      }).catch(() => undefined)
      return 'done'
    })
    t.equal(r, 'done')
    await t.rejects(s.transaction(async (tx) => {
      await tx.query(`INSERT INTO ${TABLE} (name) VALUES ('e')`)
      throw new Error('outer')
    }), { message: 'outer' })
    t.same(await rows(), ['a', 'c'])
    await s.begin()
    await s.query(`INSERT INTO ${TABLE} (name) VALUES ('f')`)
    t.equal(await trx(), 1, 'a transaction is open')
    await s.close()
    t.same(await rows(), ['a', 'c'], 'close rolled back the open transaction')
    await until(async () => await trx() === 0, 2000)
    t.equal(pool.checkedout(), 0)
  })

  t.test('unit of work: begun at the first statement, again after commit; close rolls back', async (t) => {
    const pool = await realPool(t, QueuePool)
    const trx = trackTransactions(pool, db)
    const s = new Session(pool, { transaction: true })
    t.equal(s.isUnitOfWork, true)
    t.equal(s.inTransaction, false)
    await s.query(`INSERT INTO ${TABLE} (name) VALUES ('u1')`)
    t.equal(s.inTransaction, true)
    await s.commit()
    t.equal(s.inTransaction, false)
    await s.execute(`INSERT INTO ${TABLE} (name) VALUES (?)`, ['u2'])
    t.equal(s.inTransaction, true, 'a new transaction after commit')
    await t.rejects(s.begin(), TransactionStateError, 'begin() once the unit of work began is a misuse, as elsewhere')
    await s.transaction(async (tx) => { await tx.query(`INSERT INTO ${TABLE} (name) VALUES ('u3')`) })
    t.equal(s.inTransaction, true, 'transaction(fn) inside the unit of work is a savepoint')
    await s.close()
    t.same(await rows(), ['u1'], 'only the committed part remains')
    t.equal(await trx(), 0, 'no transaction left open')
    t.equal(pool.checkedout(), 0)
  })

  t.test('leaving the unit of work (a hijack) is refused while its transaction is beginning, not only once it is open', async (t) => {
    const pool = await realPool(t, QueuePool, { poolSize: 2 })
    const trx = trackTransactions(pool, db)
    const outcomes = { left: 0, refused: 0 }
    for (let i = 0; i < 40; i++) {
      const s = new Session(pool, { transaction: true })
      const first = s.query('SELECT 1')
      // 0-4 turns of the event loop: before the checkout, while START TRANSACTION runs, after.
      for (let k = 0; k < i % 5; k++) await new Promise((resolve) => setImmediate(resolve))
      let left = true
      try {
        s.leaveUnitOfWork()
      } catch (err) {
        left = false
        t.ok(err instanceof TransactionStateError)
      }
      await first
      if (left) {
        outcomes.left++
        t.equal(s.inTransaction, false, 'left the unit of work: no transaction opens behind its back')
      } else {
        outcomes.refused++
      }
      await s.close()
    }
    t.comment(`outcomes: ${JSON.stringify(outcomes)}`)
    t.equal(await trx(), 0, 'no transaction left open on the server')
    t.equal(pool.checkedout(), 0)
  })

  t.test('outside a transaction a disconnect just takes a new connection', async (t) => {
    const pool = await realPool(t, QueuePool)
    const s = new Session(pool)
    t.teardown(() => s.close())
    const id = await connectionId(s)
    await killThread(db, id)
    await t.rejects(s.query('SELECT 1'), { code: 'FST_DB_DISCONNECTED' })
    const id2 = await connectionId(s)
    t.not(id2, id)
    await s.close()
    t.equal(pool.checkedout(), 0)
  })

  t.test('close() at random moments around START TRANSACTION: the body never runs on a closed session, nothing stays open', async (t) => {
    const pool = await realPool(t, QueuePool, { poolSize: 2 })
    const trx = trackTransactions(pool, db)
    const outcomes = { committed: 0, failedAtCommit: 0, closedBeforeBody: 0, closedAfterStart: 0 }
    for (let i = 0; i < 60; i++) {
      const s = new Session(pool)
      await s.query('SELECT 1')
      let ran = false
      const run = s.transaction(async () => { ran = true }).then(() => 'committed', (err: unknown) => err)
      // 0-3 turns of the event loop: before START TRANSACTION is written, while it runs, after it answered.
      for (let k = 0; k < i % 4; k++) await new Promise((resolve) => setImmediate(resolve))
      await s.close()
      const outcome = await run
      const { commits, rollbacks } = s.stats()
      t.equal(s.inTransaction, false, 'no transaction open on a closed session')
      if (outcome === 'committed') {
        outcomes.committed++
        t.same({ commits, rollbacks }, { commits: 1, rollbacks: 0 })
      } else if (ran) {
        // close() landed on the COMMIT, which it interrupted: a transaction that ended without one.
        outcomes.failedAtCommit++
        t.same({ commits, rollbacks }, { commits: 0, rollbacks: 1 })
      } else {
        outcomes.closedBeforeBody++
        t.ok(outcome instanceof SessionClosedError, 'the body never runs on a closed session: SessionClosedError')
        t.equal(commits, 0)
        // Counted when START TRANSACTION still succeeded (the transaction began, then the reset
        // on return ended it); not when the close interrupted it (nothing began).
        t.ok(rollbacks <= 1, 'counted at most once')
        if (rollbacks === 1) outcomes.closedAfterStart++
      }
    }
    t.comment(`outcomes: ${JSON.stringify(outcomes)}`)
    t.ok(outcomes.closedAfterStart > 0, 'some closes landed after START TRANSACTION had begun a transaction, and counted it as rolled back')
    t.equal(await trx(), 0, 'no transaction left open on the server')
    t.equal(pool.checkedout(), 0)
  })

  t.test('[Symbol.asyncDispose] closes', async (t) => {
    const pool = await realPool(t, QueuePool)
    const s = new Session(pool)
    await s.query('SELECT 1')
    await s[Symbol.asyncDispose]()
    t.equal(s.closed, true)
    t.equal(pool.checkedout(), 0)
  })
})
