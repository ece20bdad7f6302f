import t from 'tap'
import { QueuePool } from '../../lib/pool'
import type { PooledConnection } from '../../lib/pool'
import { realPool, threadOf } from '../helpers/pool'

t.test('waiters are served strictly in arrival order; a newcomer never overtakes', async (t) => {
  const pool = await realPool(t, QueuePool, { poolSize: 2, maxOverflow: 0, timeout: 5000 })
  const held = [await pool.connect(), await pool.connect()]
  const served: number[] = []
  const waiters: Promise<PooledConnection>[] = []
  for (let i = 0; i < 4; i++) waiters.push(pool.connect().then((h) => { served.push(i); return h }))
  t.equal(pool.stats().waiting, 4)

  await held[0].close()
  // A newcomer arriving while a waiter exists queues behind it.
  waiters.push(pool.connect().then((h) => { served.push(4); return h }))
  const first = await waiters[0]
  t.same(served, [0])
  await held[1].close()
  await first.close()
  const rest: PooledConnection[] = []
  for (let i = 1; i < 5; i++) {
    const h = await waiters[i]
    rest.push(h)
    // Later waiters may already be served by now (handoffs take few microtask hops): check the order.
    t.same(served.slice(0, i + 1), Array.from({ length: i + 1 }, (_v, k) => k), `waiter ${i} served in order`)
    if (i >= 2) await rest[i - 2].close()
  }
  for (const h of rest.slice(-2)) await h.close()
  t.same(served, [0, 1, 2, 3, 4])
  t.equal(pool.stats().timeouts, 0)
  t.equal(pool.checkedin(), 2)
})

t.test('FIFO hands out idle connections round-robin', async (t) => {
  const pool = await realPool(t, QueuePool, { poolSize: 3, maxOverflow: 0 })
  const hs = await Promise.all([pool.connect(), pool.connect(), pool.connect()])
  const ids = hs.map(threadOf)
  for (const h of hs) await h.close() // returned in order ids[0], ids[1], ids[2]
  const a = await pool.connect()
  t.equal(threadOf(a), ids[0], 'oldest returned first')
  await a.close()
  const b = await pool.connect()
  t.equal(threadOf(b), ids[1])
  await b.close()
})

t.test('useLifo hands out the most recently returned first', async (t) => {
  const pool = await realPool(t, QueuePool, { poolSize: 3, maxOverflow: 0, useLifo: true })
  const hs = await Promise.all([pool.connect(), pool.connect(), pool.connect()])
  const ids = hs.map(threadOf)
  for (const h of hs) await h.close()
  const a = await pool.connect()
  t.equal(threadOf(a), ids[2], 'last returned first')
  await a.close()
  const b = await pool.connect()
  t.equal(threadOf(b), ids[2], 'same hot connection again')
  const c = await pool.connect()
  t.equal(threadOf(c), ids[1])
  await b.close()
  await c.close()
})
