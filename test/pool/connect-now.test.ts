/**
 * `connectNow()`, the synchronous fast path a session takes before `connect()`: a handle only when
 * one can be handed out without waiting or I/O, never ahead of a queued waiter, and the idle
 * order left as it was when it has to say no.
 */
import t from 'tap'
import { NullPool, QueuePool, Session, StaticPool } from '../../lib'
import { admin, realPool, sleep, threadOf } from '../helpers/pool'

t.test('an idle connection is handed out synchronously; none idle and none to open: undefined', async (t) => {
  const pool = await realPool(t, QueuePool, { poolSize: 1, maxOverflow: 0 })
  t.equal(pool.connectNow(), undefined, 'no connection opened yet: connecting is I/O')
  const first = await pool.connect()
  const thread = threadOf(first)
  await first.close()
  const now = pool.connectNow()
  t.ok(now !== undefined, 'idle: handed out at once')
  t.equal(threadOf(now!), thread, 'the idle connection')
  t.equal(pool.stats().checkedOut, 1)
  t.equal(pool.stats().checkouts, 2, 'counted like any checkout')
  t.equal(pool.connectNow(), undefined, 'the only connection is out')
  const [rows] = await now!.query('SELECT 1 AS one')
  t.same(rows, [{ one: 1 }])
  await now!.close()
  t.equal(pool.stats().checkedOut, 0)
})

t.test('never ahead of a queued waiter: the waiter gets the connection', async (t) => {
  const pool = await realPool(t, QueuePool, { poolSize: 1, maxOverflow: 0, timeout: 2000 })
  const held = await pool.connect()
  const waiting = pool.connect()
  t.equal(pool.stats().waiting, 1)
  const closing = held.close()
  // The connection went straight to the waiter (reads only: no reset), nothing is idle.
  t.equal(pool.connectNow(), undefined)
  await closing
  const handle = await waiting
  t.equal(pool.connectNow(), undefined, 'still held by the waiter')
  await handle.close()
})

t.test('a connection due for pre-ping stays idle, in its place, for connect() to check', async (t) => {
  const pool = await realPool(t, QueuePool, { poolSize: 2, maxOverflow: 0, prePing: true, prePingBypass: 20 })
  const a = await pool.connect()
  const b = await pool.connect()
  const [threadA, threadB] = [threadOf(a), threadOf(b)]
  await a.close()
  await b.close()
  await sleep(40) // both past the bypass window: a checkout must ping first
  t.equal(pool.connectNow(), undefined, 'a ping is I/O: not on the synchronous path')
  t.equal(pool.stats().checkedIn, 2, 'nothing lost')
  const first = await pool.connect()
  t.equal(threadOf(first), threadA, 'FIFO order kept: the oldest idle connection comes first')
  const second = await pool.connect()
  t.equal(threadOf(second), threadB)
  t.ok(pool.stats().checkouts >= 4)
  await first.close()
  await second.close()
})

t.test('a closed pool and the pools without a fast path say undefined', async (t) => {
  const queue = await realPool(t, QueuePool, { poolSize: 1 })
  await (await queue.connect()).close()
  await queue.close()
  t.equal(queue.connectNow(), undefined)
  const nullPool = await realPool(t, NullPool, {})
  t.equal(nullPool.connectNow(), undefined, 'NullPool opens a connection per checkout')
  const staticPool = await realPool(t, StaticPool, {})
  t.equal(staticPool.connectNow(), undefined)
})

t.test('a session takes an idle connection without a checkout wait, and reports it acquired', async (t) => {
  const pool = await realPool(t, QueuePool, { poolSize: 1, maxOverflow: 0 })
  await (await pool.connect()).close()
  const session = new Session(pool)
  const [rows] = await session.query('SELECT CONNECTION_ID() AS id')
  t.equal(pool.stats().checkedOut, 1)
  t.equal(session.stats().queries, 1)
  t.equal(session.stats().waitMs, 0, 'no wait on the synchronous path')
  const again = await session.query('SELECT CONNECTION_ID() AS id')
  t.same(again[0], rows, 'same connection for the session\'s next statement')
  await session.close()
  t.equal(pool.stats().checkedOut, 0)
})

t.test('a subclass that overrides connect() gets every checkout, the synchronous ones too', async (t) => {
  let counted = 0
  class CountingPool extends QueuePool {
    override connect (...args: Parameters<QueuePool['connect']>): ReturnType<QueuePool['connect']> {
      counted++
      return super.connect(...args)
    }
  }
  const pool = await realPool(t, CountingPool, { poolSize: 1 })
  await (await pool.connect()).close()
  t.equal(pool.connectNow(), undefined, 'no fast path around the override')
  const session = new Session(pool)
  await session.query('SELECT 1')
  await session.close()
  t.equal(counted, 2, 'the session\'s checkout went through connect()')
})

t.test('a session waiting for rollback() takes no connection on the synchronous path', async (t) => {
  const pool = await realPool(t, QueuePool, { poolSize: 2 })
  const adminConn = await admin(t)
  await (await pool.connect()).close()
  const session = new Session(pool, { transaction: true })
  const [rows] = await session.query('SELECT CONNECTION_ID() AS id')
  await adminConn.query('KILL ?', [(rows as Array<{ id: number }>)[0].id])
  await t.rejects(session.query('SELECT 1'), { code: 'FST_DB_DISCONNECTED' })
  await t.rejects(session.query('SELECT 1'), { code: 'FST_DB_PENDING_ROLLBACK' })
  t.equal(pool.stats().checkedOut, 0, 'the refused statement left the idle connection in the pool')
  await session.rollback()
  await session.query('SELECT 1')
  t.equal(pool.stats().checkedOut, 1)
  await session.close()
})
