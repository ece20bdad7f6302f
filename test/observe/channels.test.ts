import dc from 'node:diagnostics_channel'
import t from 'tap'
import { NullPool, POOL_CHANNELS, PoolTimeoutError, QueuePool, SESSION_CHANNELS, StaticPool } from '../../lib'
import type {
  CheckinMessage, CheckoutMessage, ConnectErrorMessage, ConnectMessage, InvalidateMessage, LeakMessage, PoolMessage,
  SessionAcquiredMessage, SessionReleasedMessage, TimeoutMessage
} from '../../lib'
import { poolChannels, sessionChannels } from '../../lib/observe/channels'
import { setPoolName } from '../../lib/observe/pool-name'
import { Session } from '../../lib/session/session'
import { buildApp, listen, request } from '../plugin/_helpers'
import { admin, realPool, sleep } from '../helpers/pool'

interface Seen { channel: string, message: PoolMessage }

/** Subscribes to every channel for this test; only messages about `pool` are kept. */
function subscribeAll (t: { teardown: (fn: () => void) => void }, keep: (m: PoolMessage) => boolean): Seen[] {
  const seen: Seen[] = []
  const names = { ...POOL_CHANNELS, ...SESSION_CHANNELS }
  for (const [key, name] of Object.entries(names)) {
    const fn = (message: unknown): void => {
      if (keep(message as PoolMessage)) seen.push({ channel: key, message: message as PoolMessage })
    }
    dc.subscribe(name, fn)
    t.teardown(() => { dc.unsubscribe(name, fn) })
  }
  return seen
}

const names = (seen: Seen[]): string[] => seen.map((s) => s.channel)

t.test('nothing is subscribed by default: every publish site stays skipped', async (t) => {
  for (const ch of [...Object.values(poolChannels), ...Object.values(sessionChannels)]) t.equal(ch.hasSubscribers, false, String(ch.name))
  t.same(Object.values(POOL_CHANNELS).sort(), [
    'fastify-db-session:pool:checkin', 'fastify-db-session:pool:checkout', 'fastify-db-session:pool:connect',
    'fastify-db-session:pool:connect-error', 'fastify-db-session:pool:invalidate', 'fastify-db-session:pool:leak',
    'fastify-db-session:pool:timeout'
  ])
})

t.test('pool events arrive in order with their timings', async (t) => {
  const pool = await realPool(t, QueuePool, { poolSize: 1, maxOverflow: 0, timeout: 150 })
  setPoolName(pool, 'orders-db')
  const seen = subscribeAll(t, (m) => m.pool === pool)

  const h = await pool.connect()
  t.same(names(seen), ['connect', 'checkout'], 'first checkout opens a connection, then hands it out')
  const connect = seen[0].message as ConnectMessage
  const firstCheckout = seen[1].message as CheckoutMessage
  t.equal(connect.poolName, 'orders-db')
  t.equal(connect.connectionId, h.record?.id)
  t.ok(connect.createMs > 0 && connect.createMs < 5000, `createMs ${connect.createMs}`)
  t.ok(firstCheckout.waitMs >= connect.createMs, 'the first wait includes opening the connection')

  await h.query('SELECT SLEEP(0.05)')
  await h.close()
  t.same(names(seen).slice(2), ['checkin'])
  const checkin = seen[2].message as CheckinMessage
  t.equal(checkin.invalidated, false)
  t.ok(checkin.useMs >= 45, `useMs ${checkin.useMs} covers the 50 ms statement`)

  // A waiter's wait runs from its connect() call to the hand-out.
  const holder = await pool.connect()
  const waiting = pool.connect()
  await sleep(80)
  await holder.close()
  const waited = await waiting
  const waiterCheckout = seen.filter((s) => s.channel === 'checkout').at(-1)?.message as CheckoutMessage
  t.ok(waiterCheckout.waitMs >= 75 && waiterCheckout.waitMs < 1000, `waiter waited ${waiterCheckout.waitMs} ms`)

  // Now at the limit: a further checkout times out.
  const started = performance.now()
  await t.rejects(pool.connect(), PoolTimeoutError)
  const timeout = seen.at(-1)?.message as TimeoutMessage
  t.equal(seen.at(-1)?.channel, 'timeout')
  t.ok(timeout.waitMs >= 145 && timeout.waitMs <= performance.now() - started + 1, `timed out after ${timeout.waitMs} ms`)
  t.equal(timeout.stats.timeouts, 1)

  seen.length = 0
  waited.invalidate(new Error('bad state'))
  t.same(names(seen), ['checkin', 'invalidate'], 'an invalidated handle reports its use time, then the discard')
  t.equal((seen[0].message as CheckinMessage).invalidated, true)
  t.equal(((seen[1].message as InvalidateMessage).error as Error).message, 'bad state')
})

t.test('no subscriber when the checkout happened: no made-up use time', async (t) => {
  // failFast (on by default) times every checkout for its estimate: off here, the pool reads no clock.
  const pool = await realPool(t, QueuePool, { poolSize: 1, maxOverflow: 0, failFast: false })
  const h = await pool.connect()
  await h.close()
  const h2 = await pool.connect() // fast path, no clock read: nobody listened
  const seen = subscribeAll(t, (m) => m.pool === pool)
  await h2.close()
  t.same(names(seen), [], 'a checkin without a checkout time is not published')
})

t.test('a failed connect is published with the time it took', async (t) => {
  // A port nobody listens on: refused at once.
  const pool = new NullPool(async () => await (await import('mysql2/promise')).createConnection({ host: '127.0.0.1', port: 1, connectTimeout: 2000 }))
  t.teardown(() => pool.close())
  const seen = subscribeAll(t, (m) => m.pool === pool)
  await t.rejects(pool.connect(), { code: 'FST_DB_UNAVAILABLE' })
  t.same(names(seen), ['connectError'])
  const m = seen[0].message as ConnectErrorMessage
  t.equal((m.error as { code?: string }).code, 'FST_DB_UNAVAILABLE')
  t.ok(m.createMs >= 0 && m.createMs < 2000)
  t.equal(m.poolName, undefined, 'an unnamed standalone pool')
})

t.test('leak detection is published once the threshold passes', async (t) => {
  const pool = await realPool(t, QueuePool, { poolSize: 1, leakDetectionThreshold: 60 })
  const seen = subscribeAll(t, (m) => m.pool === pool)
  const h = await pool.connect()
  await sleep(120)
  const leak = seen.find((s) => s.channel === 'leak')?.message as LeakMessage | undefined
  t.ok(leak !== undefined, 'leak published')
  t.equal(leak?.connectionId, h.record?.id)
  t.equal(leak?.threshold, 60)
  t.ok((leak?.heldMs ?? 0) >= 55)
  t.match(leak?.stack, /Connection checked out here/)
  await h.close()
})

t.test('StaticPool hands out without queueing: wait 0, use time measured', async (t) => {
  const pool = await realPool(t, StaticPool)
  const first = await pool.connect()
  await first.close()
  const seen = subscribeAll(t, (m) => m.pool === pool)
  const a = await pool.connect()
  const b = await pool.connect()
  await a.close()
  await b.close()
  t.same(names(seen), ['checkout', 'checkout', 'checkin', 'checkin'])
  t.equal((seen[0].message as CheckoutMessage).waitMs, 0)
})

t.test('a session publishes acquired and released inside the pool checkout and checkin', async (t) => {
  const pool = await realPool(t, QueuePool, { poolSize: 1 })
  const seen = subscribeAll(t, (m) => m.pool === pool)
  const session = new Session(pool, { requestId: 'job-7' })
  await session.query('SELECT 1')
  await session.query('SELECT 2')
  await session.close()
  t.same(names(seen), ['connect', 'checkout', 'acquired', 'released', 'checkin'])
  const acquired = seen[2].message as SessionAcquiredMessage
  const released = seen[3].message as SessionReleasedMessage
  t.equal(acquired.session, session)
  t.equal(acquired.requestId, 'job-7')
  t.equal(acquired.connectionId, (seen[1].message as CheckoutMessage).connectionId)
  t.equal(released.queries, 2)
  t.ok(released.heldMs > 0)
  // A session that never touched the database publishes nothing.
  seen.length = 0
  await new Session(pool).close()
  t.same(names(seen), [])
})

t.test('a session that loses its connection reports it released, and acquired again for the next one', async (t) => {
  const pool = await realPool(t, QueuePool, { poolSize: 2 })
  const adminConn = await admin(t)
  const seen = subscribeAll(t, (m) => m.pool === pool)
  const session = new Session(pool, { requestId: 'r-1' })
  const [rows] = await session.query('SELECT CONNECTION_ID() AS id')
  await adminConn.query(`KILL ${Number((rows as Array<{ id: number }>)[0].id)}`)
  await t.rejects(session.query('SELECT 1'))
  await session.query('SELECT 1') // outside a transaction the session takes a new connection
  await session.close()
  const lifecycle = names(seen).filter((c) => c === 'acquired' || c === 'released')
  t.same(lifecycle, ['acquired', 'released', 'acquired', 'released'], 'balanced')
  t.ok(names(seen).includes('invalidate'))
})

t.test('over HTTP, each request\'s session carries its request id, in order per request', async (t) => {
  const { app } = await buildApp(t, {
    plugin: { poolName: 'main', poolSize: 2, maxOverflow: 0 },
    logLevel: false,
    setup: (app) => {
      app.get('/q', async (request) => {
        await request.db.query('SELECT SLEEP(0.02)')
        return { id: request.id }
      })
      app.get('/none', async () => ({ ok: true }))
    }
  })
  const seen = subscribeAll(t, (m) => m.pool === app.db.pool)
  const url = await listen(app)
  const responses = await Promise.all([1, 2, 3, 4].map(() => request(`${url}/q`)))
  await request(`${url}/none`)
  const ids = responses.map((r) => (JSON.parse(r.body) as { id: string }).id)
  const acquired = seen.filter((s) => s.channel === 'acquired').map((s) => (s.message as SessionAcquiredMessage).requestId)
  const released = seen.filter((s) => s.channel === 'released').map((s) => (s.message as SessionReleasedMessage).requestId)
  t.same([...acquired].sort(), [...ids].sort(), 'one acquired per request that used the database, with its id')
  t.same([...released].sort(), [...ids].sort(), 'one released per such request')
  for (const s of seen) t.equal(s.message.poolName, 'main')
  // Per connection the sequence is checkout → acquired → released → checkin, never interleaved.
  const byConnection = new Map<number, string[]>()
  for (const s of seen) {
    const id = (s.message as { connectionId?: number }).connectionId
    if (id !== undefined) byConnection.set(id, [...(byConnection.get(id) ?? []), s.channel])
  }
  for (const [id, seq] of byConnection) {
    const uses = seq.filter((c) => c !== 'connect' && c !== 'released')
    for (let i = 0; i < uses.length; i += 3) t.same(uses.slice(i, i + 3), ['checkout', 'acquired', 'checkin'], `connection ${id}`)
  }
  const order = names(seen).filter((c) => c === 'acquired' || c === 'released')
  let open = 0
  for (const c of order) {
    open += c === 'acquired' ? 1 : -1
    t.ok(open >= 0 && open <= 2, 'never more sessions holding than the pool has connections')
  }
  t.equal(open, 0)
})
