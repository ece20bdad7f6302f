/**
 * The pieces under the builders, driven directly: the Drizzle clients' prepared-statement path
 * (Drizzle calls `execute()` for some statements) and a builder transaction ended twice.
 */
import t from 'tap'
import type { RowDataPacket } from 'mysql2'
import { TransactionStateError } from '../../lib'
import { SessionConnectionClient, SessionSourceClient } from '../../lib/integrations/drizzle-client'
import { openTransaction } from '../../lib/integrations/open-transaction'
import { connectionId } from '../helpers/db'
import { fixture, names, sourceWith } from './_helpers'

const TABLE = 'clients_rows'

t.test('the Drizzle clients run prepared statements on the right session', async (t) => {
  const { facade, pool } = await fixture(t, TABLE)
  const outside = new SessionSourceClient(sourceWith(facade, () => undefined))
  const [rows] = await outside.execute('SELECT ? + 1 AS n', [41])
  t.equal(Number((rows as RowDataPacket[])[0].n), 42)
  t.equal(pool.stats().checkedOut, 0, 'outside a request: checked out and back')
  const session = facade.session()
  t.teardown(() => session.close())
  const inside = new SessionSourceClient(sourceWith(facade, () => session))
  const [same] = await inside.execute('SELECT CONNECTION_ID() AS id')
  t.equal(Number((same as RowDataPacket[])[0].id), await connectionId(session), 'inside: the current session')
  const bound = new SessionConnectionClient(session, false)
  const [again] = await bound.execute('SELECT CONNECTION_ID() AS id')
  t.equal(Number((again as RowDataPacket[])[0].id), await connectionId(session))
  bound.release()
  t.notOk(session.closed, 'a borrowed session is not closed by release()')
  const owned = new SessionConnectionClient(facade.session(), true)
  await owned.query('SELECT 1')
  t.equal(pool.stats().checkedOut, 2)
  owned.release()
  await new Promise((resolve) => setTimeout(resolve, 50))
  t.equal(pool.stats().checkedOut, 1, 'an owned session is closed by release()')
})

t.test('COMMIT/ROLLBACK outside a Drizzle transaction pass through; an ended transaction cannot end again', async (t) => {
  const { facade, admin } = await fixture(t, TABLE)
  const session = facade.session()
  t.teardown(() => session.close())
  const client = new SessionConnectionClient(session, false)
  await client.query('START TRANSACTION')
  await session.query(`INSERT INTO ${TABLE} (name) VALUES ('a')`)
  await client.query('ROLLBACK')
  t.same(await names(admin, TABLE), [], 'the mapped transaction was rolled back')
  await client.query('COMMIT') // no transaction of ours open: goes to the server as is
  const tx = await openTransaction(session)
  await tx.commit()
  await t.rejects(tx.commit(), TransactionStateError)
  await t.rejects(tx.rollback(), TransactionStateError)
})
