import t from 'tap'
import { QueuePool } from '../../lib/pool'
import type { DriverConnection } from '../../lib/pool'
import { killThread } from '../helpers/db'
import { admin, realPool, sleep, threadOf, until } from '../helpers/pool'

/** Counts ping() calls on every connection the pool opens; `failNext` makes the next one fail like a dead link. */
function spyPings (pool: QueuePool): { count: number, failNext: boolean } {
  const spy = { count: 0, failNext: false }
  pool.on('connect', (conn: DriverConnection) => {
    const ping = conn.ping.bind(conn)
    conn.ping = async () => {
      spy.count++
      if (spy.failNext) {
        spy.failNext = false
        throw Object.assign(new Error('Connection lost: The server closed the connection.'), { code: 'PROTOCOL_CONNECTION_LOST', fatal: true })
      }
      return ping()
    }
  })
  return spy
}

t.test('recycle replaces a connection older than recycle at checkout', async (t) => {
  // 1 s: long enough that the reuse below is young even on a loaded machine.
  const pool = await realPool(t, QueuePool, { poolSize: 1, maxOverflow: 0, recycle: 1000, recycleJitter: 0 })
  const events: string[] = []
  for (const ev of ['connect', 'checkout', 'close', 'invalidate'] as const) pool.on(ev, () => events.push(ev))
  const h = await pool.connect()
  const first = threadOf(h)
  await h.close()
  const again = await pool.connect()
  t.equal(threadOf(again), first, 'young enough: reused')
  await again.close()
  await sleep(1060)
  events.length = 0
  const h2 = await pool.connect()
  t.not(threadOf(h2), first, 'recycled: a new server thread')
  t.same(events, ['close', 'connect', 'checkout'], 'no invalidate event for an age recycle')
  t.equal(pool.stats().recycles, 1)
  t.equal(pool.stats().invalidations, 0)
  await h2.close()
})

t.test('recycleJitter makes expiry no later than recycle', async (t) => {
  const pool = await realPool(t, QueuePool, { poolSize: 3, maxOverflow: 0, recycle: 10_000, recycleJitter: 0.5 })
  const hs = await Promise.all([pool.connect(), pool.connect(), pool.connect()])
  for (const h of hs) {
    const r = h.record
    if (r === null) throw new Error('no record')
    const life = r.expiresAt - r.createdAt
    t.ok(life <= 10_000 && life >= 5_000, `lifetime ${life} within [recycle*(1-jitter), recycle]`)
  }
  for (const h of hs) await h.close()
})

t.test('prePing: fresh connections are not pinged; prePingBypass skips recently used ones', async (t) => {
  const pool = await realPool(t, QueuePool, { poolSize: 1, maxOverflow: 0, prePing: true, prePingBypass: 10_000 })
  const spy = spyPings(pool)
  const h = await pool.connect()
  t.equal(spy.count, 0, 'fresh: no ping')
  await h.close()
  const h2 = await pool.connect()
  t.equal(spy.count, 0, 'used within the bypass window: no ping')
  await h2.close()
})

t.test('prePing with no bypass pings every non-fresh checkout', async (t) => {
  const pool = await realPool(t, QueuePool, { poolSize: 1, maxOverflow: 0, prePing: true, prePingBypass: 0 })
  const spy = spyPings(pool)
  const h = await pool.connect()
  await h.close()
  const h2 = await pool.connect()
  t.equal(spy.count, 1)
  await h2.close()
  const h3 = await pool.connect()
  t.equal(spy.count, 2)
  await h3.close()
})

t.test('prePing after KILL: checkout succeeds on a new thread', async (t) => {
  const a = await admin(t)
  const pool = await realPool(t, QueuePool, { poolSize: 1, maxOverflow: 0, prePing: true, prePingBypass: 0 })
  const h = await pool.connect()
  const thread = threadOf(h)
  await h.close()
  await killThread(a, thread)
  const h2 = await pool.connect()
  t.not(threadOf(h2), thread)
  const [rows] = await h2.query<Array<{ one: number }> & import('mysql2').RowDataPacket[]>('SELECT 1 AS one')
  t.equal(rows[0].one, 1)
  await h2.close()
})

t.test('a failed pre-ping invalidates the pool: older idle connections are replaced at their next checkout', async (t) => {
  const pool = await realPool(t, QueuePool, { poolSize: 3, maxOverflow: 0, prePing: true, prePingBypass: 0 })
  const spy = spyPings(pool)
  const hs = await Promise.all([pool.connect(), pool.connect(), pool.connect()])
  const ids = hs.map(threadOf)
  for (const h of hs) await h.close()
  const events: string[] = []
  for (const ev of ['connect', 'checkout', 'close', 'invalidate'] as const) pool.on(ev, () => events.push(ev))

  spy.failNext = true
  const a = await pool.connect() // FIFO: the slot of ids[0]; its ping "fails"
  t.not(threadOf(a), ids[0])
  t.same(events, ['invalidate', 'close', 'connect', 'checkout'], 'ping failure: invalidate, close, reconnect once (fresh, not pinged)')
  t.equal(spy.count, 1)
  events.length = 0

  const b = await pool.connect() // ids[1]: older than the mark → recycled without a ping
  t.not(threadOf(b), ids[1])
  t.same(events, ['close', 'connect', 'checkout'])
  t.equal(spy.count, 1, 'a recycled connection is fresh: not pinged')
  const c = await pool.connect()
  t.not(threadOf(c), ids[2])
  t.equal(pool.stats().recycles, 2)
  const fresh = [a, b, c].map(threadOf)
  for (const h of [a, b, c]) await h.close()

  // A further round creates none.
  const again = await Promise.all([pool.connect(), pool.connect(), pool.connect()])
  t.same(again.map(threadOf).sort(), fresh.sort())
  t.equal(pool.stats().connects, 6)
  for (const h of again) await h.close()
})

t.test('an idle connection KILLed server-side is dropped at once, without a crash', async (t) => {
  const a = await admin(t)
  const pool = await realPool(t, QueuePool, { poolSize: 2, maxOverflow: 0 })
  const invalidated: number[] = []
  pool.on('invalidate', (conn) => invalidated.push(conn.threadId))
  const [h1, h2] = await Promise.all([pool.connect(), pool.connect()])
  const ids = [threadOf(h1), threadOf(h2)]
  await h1.close()
  await h2.close()
  await killThread(a, ids[0])
  await until(() => invalidated.length === 1, 5000, 'the idle invalidate event')
  t.same(invalidated, [ids[0]])
  t.equal(pool.stats().invalidations, 1)
  t.equal(pool.checkedin(), 2, 'the slot stays, empty')
  const hs = await Promise.all([pool.connect(), pool.connect()])
  const now = hs.map(threadOf)
  t.ok(now.includes(ids[1]), 'the healthy one is reused')
  t.notOk(now.includes(ids[0]), 'the killed one is not')
  for (const h of hs) await h.close()
})
