import t from 'tap'
import { QueuePool } from '../../lib/pool'
import { killThread } from '../helpers/db'
import { admin, realPool, threadOf } from '../helpers/pool'

t.test('invalidate() frees the slot immediately', async (t) => {
  const pool = await realPool(t, QueuePool, { poolSize: 1, maxOverflow: 0, timeout: 0 })
  const events: string[] = []
  for (const ev of ['invalidate', 'close', 'checkin'] as const) pool.on(ev, () => events.push(ev))
  const h = await pool.connect()
  const thread = threadOf(h)
  const err = new Error('bad state')
  let seen: unknown
  pool.on('invalidate', (_c, _r, e) => { seen = e })
  h.invalidate(err)
  t.same(events, ['invalidate', 'close', 'checkin'])
  t.equal(seen, err)
  t.equal(h.isValid, false)
  t.equal(pool.checkedout(), 0)
  t.equal(pool.stats().invalidations, 1)
  const h2 = await pool.connect() // timeout 0: would fail if the slot were still held
  t.not(threadOf(h2), thread)
  await t.rejects(async () => h.query('SELECT 1'), { code: 'FST_DB_CONNECTION_INVALIDATED' })
  h.invalidate() // no-op on an invalid handle
  await h.close()
  t.equal(pool.checkedout(), 1)
  await h2.close()
})

t.test('a query failing with a disconnect invalidates the pool', async (t) => {
  const a = await admin(t)
  const pool = await realPool(t, QueuePool, { poolSize: 2, maxOverflow: 0 })
  const [h1, h2] = await Promise.all([pool.connect(), pool.connect()])
  const other = threadOf(h2)
  await h2.close() // idle, older than the coming mark
  const victim = threadOf(h1)
  await killThread(a, victim)
  const err = await h1.query('SELECT 1').then(() => undefined, (e: unknown) => e)
  t.ok(err, 'the query failed')
  t.equal(h1.isValid, false, 'the handle was invalidated')
  t.equal(pool.checkedout(), 0, 'its slot is free')
  const closed: number[] = []
  pool.on('close', (c) => closed.push(c.threadId))
  const [n1, n2] = await Promise.all([pool.connect(), pool.connect()])
  const ids = [threadOf(n1), threadOf(n2)]
  t.notOk(ids.includes(other), 'the older idle connection was replaced (pool-wide invalidation)')
  t.notOk(ids.includes(victim))
  t.ok(closed.includes(other))
  t.ok(pool.stats().recycles >= 1)
  await h1.close()
  await n1.close()
  await n2.close()
})
