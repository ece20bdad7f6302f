/** A deadlock rolls back the whole InnoDB transaction: the session must not carry on as if not. */
import t from 'tap'
import { PendingRollbackError, QueryError, Session } from '../lib'
import { QueuePool } from '../lib/pool'
import { admin, realPool } from './helpers/pool'

const TABLE = 'session_deadlock'

t.test('after a deadlock inside a transaction the session refuses work until rollback()', async (t) => {
  const db = await admin(t)
  await db.query(`DROP TABLE IF EXISTS ${TABLE}`)
  await db.query(`CREATE TABLE ${TABLE} (id INT PRIMARY KEY, v INT) ENGINE=InnoDB`)
  await db.query(`INSERT INTO ${TABLE} VALUES (1, 0), (2, 0)`)
  t.teardown(() => db.query(`DROP TABLE IF EXISTS ${TABLE}`))
  const pool = await realPool(t, QueuePool)
  const a = new Session(pool)
  const b = new Session(pool)
  t.teardown(() => a.close())
  t.teardown(() => b.close())
  await a.begin()
  await b.begin()
  await a.query(`UPDATE ${TABLE} SET v = v + 1 WHERE id = 1`)
  await b.query(`UPDATE ${TABLE} SET v = v + 1 WHERE id = 2`)
  // Each now wants the other's row: InnoDB picks one victim and rolls its transaction back.
  const results = await Promise.allSettled([
    a.query(`UPDATE ${TABLE} SET v = v + 1 WHERE id = 2`),
    b.query(`UPDATE ${TABLE} SET v = v + 1 WHERE id = 1`)
  ])
  const failed = results.findIndex((r) => r.status === 'rejected')
  t.not(failed, -1, 'one of the two was chosen as the deadlock victim')
  const victim = failed === 0 ? a : b
  const survivor = failed === 0 ? b : a
  const err = (results[failed] as PromiseRejectedResult).reason as QueryError
  t.ok(err instanceof QueryError)
  t.equal(err.errno, 1213, 'ER_LOCK_DEADLOCK')
  t.equal(victim.inTransaction, false, 'the transaction is gone')
  await t.rejects(victim.query('SELECT 1'), PendingRollbackError, 'no statement runs as if the earlier writes had happened')
  await victim.rollback()
  await survivor.commit()
  t.same({ commits: victim.stats().commits, rollbacks: victim.stats().rollbacks }, { commits: 0, rollbacks: 1 }, 'the victim\'s transaction counts as rolled back once (by the server, not again by rollback())')
  t.same({ commits: survivor.stats().commits, rollbacks: survivor.stats().rollbacks }, { commits: 1, rollbacks: 0 }, 'the survivor\'s committed')
  const [rows] = await victim.query<import('mysql2').RowDataPacket[]>(`SELECT SUM(v) AS total FROM ${TABLE}`)
  t.equal(Number(rows[0].total), 2, 'only the survivor\'s two updates were kept')
})
