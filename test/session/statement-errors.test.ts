/**
 * How a failed statement reaches its caller on the session's fast path (a connection usable at
 * once, the statement's promise handed straight back): always as a rejection, never a synchronous
 * throw, translated to the session's coded error, and with the caller's async frames in its stack
 * — what the driver's own error, made in a socket callback, does not have.
 */
import t from 'tap'
import { QueryError, QueuePool, Session } from '../../lib'
import { realPool } from '../helpers/pool'

t.test('a failed statement on the fast path', async (t) => {
  const pool = await realPool(t, QueuePool, { poolSize: 1 })

  t.test('rejects with QueryError whose stack names the caller', async (t) => {
    const session = new Session(pool)
    t.teardown(() => session.close())
    await session.query('SELECT 1') // the connection is held: the next statement takes the fast path
    async function repositoryFindMissing (): Promise<unknown> {
      return await session.query('SELECT * FROM fdbs_no_such_table_at_all')
    }
    const err = await repositoryFindMissing().then(() => undefined, (e: unknown) => e)
    t.type(err, QueryError)
    t.match((err as Error).stack, /at async repositoryFindMissing/, 'the caller\'s async frame is in the stack')
    t.equal((err as QueryError & { cause: { code?: string } }).cause.code, 'ER_NO_SUCH_TABLE', 'the driver error is the cause')
    t.same(await session.query('SELECT 2 AS two').then(([rows]) => rows), [{ two: 2 }], 'the session goes on')
  })

  t.test('bad arguments are a rejection, not a synchronous throw', async (t) => {
    const session = new Session(pool)
    t.teardown(() => session.close())
    await session.query('SELECT 1')
    let thrown: unknown
    let running: Promise<unknown> | undefined
    try {
      running = session.query(undefined as unknown as string)
    } catch (err) {
      thrown = err
    }
    t.equal(thrown, undefined, 'query() did not throw')
    t.ok(running instanceof Promise)
    await t.rejects(running as Promise<unknown>, QueryError)
    t.equal(session.stats().queries, 2, 'counted like any other statement')
  })

  t.test('the same on the long way (a unit of work begins its transaction before the statement)', async (t) => {
    const session = new Session(pool, { transaction: true })
    t.teardown(() => session.close())
    async function firstStatement (): Promise<unknown> {
      return await session.query('SELECT * FROM fdbs_no_such_table_at_all')
    }
    const err = await firstStatement().then(() => undefined, (e: unknown) => e)
    t.type(err, QueryError)
    t.match((err as Error).stack, /at async firstStatement/)
    t.equal(session.stats().queries, 2, 'the BEGIN and the failed statement, both through the session')
  })
})
