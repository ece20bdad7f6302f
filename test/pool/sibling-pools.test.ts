import t from 'tap'
import { AlreadyCheckedOutError } from '../../lib/errors'
import { AssertionPool, NullPool, StaticPool } from '../../lib/pool'
import { aliveThreads } from '../helpers/db'
import { admin, realPool, threadOf, until } from '../helpers/pool'

t.test('NullPool: a new connection per checkout, closed on return', async (t) => {
  const a = await admin(t)
  const pool = await realPool(t, NullPool)
  t.equal(pool.status(), 'NullPool')
  const h1 = await pool.connect()
  const h2 = await pool.connect()
  const ids = [threadOf(h1), threadOf(h2)]
  t.not(ids[0], ids[1])
  t.equal(pool.stats().checkedOut, 2)
  await h1.close()
  await h2.close()
  t.equal(pool.stats().checkedOut, 0)
  await until(async () => (await aliveThreads(a, ids)).length === 0, 5000, 'closed on return')
  const h3 = await pool.connect()
  t.notOk(ids.includes(threadOf(h3)))
  await h3.close()
})

t.test('StaticPool: the same connection for concurrent callers', async (t) => {
  const pool = await realPool(t, StaticPool)
  t.equal(pool.status(), 'StaticPool')
  const [h1, h2] = await Promise.all([pool.connect(), pool.connect()])
  const shared = threadOf(h1)
  t.equal(threadOf(h2), shared)
  t.equal(pool.stats().checkedOut, 2)
  await h1.close()
  await h2.close()
  const h3 = await pool.connect()
  t.equal(threadOf(h3), shared)
  await h3.close()
  t.equal(pool.stats().connects, 1)
})

t.test('AssertionPool: a second checkout rejects', async (t) => {
  const pool = await realPool(t, AssertionPool)
  t.equal(pool.status(), 'AssertionPool')
  const h = await pool.connect()
  const err = await pool.connect().then(() => undefined, (e: unknown) => e) as AlreadyCheckedOutError
  t.ok(err instanceof AlreadyCheckedOutError)
  t.equal(err.code, 'FST_DB_ALREADY_CHECKED_OUT')
  t.ok(err.message.startsWith('connection is already checked out'))
  t.match(err.message, /at:\n/, 'with the stack of the outstanding checkout')
  const thread = threadOf(h)
  await h.close()
  const h2 = await pool.connect()
  t.equal(threadOf(h2), thread, 'one reused slot')
  await h2.close()
})
