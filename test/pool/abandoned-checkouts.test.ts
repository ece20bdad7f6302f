/**
 * Checkouts abandoned by their caller (`connect({ signal })`): a waiter leaves the queue the moment
 * its signal aborts, no connection is ever handed to it, and a connection being opened for it goes
 * to the next waiter or into the pool. Also the per-checkout `timeout`.
 */
import t from 'tap'
import mysql from 'mysql2/promise'
import { PoolTimeoutError, QueuePool, NullPool, StaticPool, AssertionPool } from '../../lib'
import type { PooledConnection } from '../../lib'
import { databaseUrl } from '../helpers/db'
import { fakeLogger, realPool, sleep, threadOf } from '../helpers/pool'
import { FAIL_FAST_HEADROOM } from '../../lib/pool/queue-pool'

t.test('an aborted waiter leaves the queue at once and is never served', async (t) => {
  const pool = await realPool(t, QueuePool, { poolSize: 1, maxOverflow: 0, timeout: 5000 })
  const held = await pool.connect()
  const controllers = Array.from({ length: 5 }, () => new AbortController())
  const waits = controllers.map((c) => pool.connect({ signal: c.signal }))
  const live = pool.connect()
  t.equal(pool.stats().waiting, 6)
  const reason = new Error('client went away')
  for (const c of controllers) c.abort(reason)
  t.equal(pool.stats().waiting, 1, 'waiting drops at once')
  for (const w of waits) await t.rejects(w, reason)
  const checkoutsBefore = pool.stats().checkouts
  await held.close()
  const next = await live
  t.equal(pool.stats().checkouts, checkoutsBefore + 1, 'only the live waiter was served')
  t.equal(pool.stats().abandoned, 5)
  t.equal(pool.stats().timeouts, 0)
  await next.close()
  t.equal(pool.checkedout(), 0)
})

t.test('an already aborted signal is refused without touching the pool', async (t) => {
  const url = await databaseUrl()
  for (const Kind of [QueuePool, NullPool, StaticPool, AssertionPool]) {
    const pool = new Kind(() => mysql.createConnection(url), { logger: fakeLogger(), closeTimeout: 100 })
    const c = new AbortController()
    c.abort(new Error('gone'))
    await t.rejects(pool.connect({ signal: c.signal }), { message: 'gone' }, Kind.name)
    t.equal(pool.stats().checkouts, 0, `${Kind.name}: no checkout`)
    t.equal(pool.stats().connects, 0, `${Kind.name}: no connect`)
    await pool.close()
  }
})

t.test('a connection being opened for an abandoned checkout goes to the next waiter', async (t) => {
  const url = await databaseUrl()
  let gate: (() => void) | undefined
  let slow = true
  const pool = new QueuePool(async () => {
    if (slow) await new Promise<void>((resolve) => { gate = resolve })
    return await mysql.createConnection(url)
  }, { poolSize: 1, maxOverflow: 0, timeout: 5000, logger: fakeLogger(), closeTimeout: 200 })
  t.teardown(() => pool.close())
  const c = new AbortController()
  const first = pool.connect({ signal: c.signal })
  const second = pool.connect()
  await sleep(20)
  c.abort(new Error('request ended'))
  await t.rejects(first, { message: 'request ended' }, 'rejected at once, while still connecting')
  slow = false
  gate?.()
  const h = await second
  t.ok(threadOf(h) > 0, 'the next waiter got the new connection')
  t.equal(pool.stats().checkouts, 1, 'one checkout: the abandoned one never counted')
  t.equal(pool.stats().abandoned, 1)
  await h.close()
  t.equal(pool.checkedin(), 1, 'and it is back in the pool')
})

t.test('a connection opened for an abandoned checkout with nobody waiting goes into the pool', async (t) => {
  const url = await databaseUrl()
  let gate: (() => void) | undefined
  const pool = new QueuePool(async () => {
    await new Promise<void>((resolve) => { gate = resolve })
    return await mysql.createConnection(url)
  }, { poolSize: 2, maxOverflow: 0, logger: fakeLogger(), closeTimeout: 200 })
  t.teardown(() => pool.close())
  const c = new AbortController()
  const first = pool.connect({ signal: c.signal })
  await sleep(10)
  c.abort(new Error('gone'))
  await t.rejects(first)
  gate?.()
  for (let i = 0; i < 50 && pool.checkedin() === 0; i++) await sleep(10)
  t.equal(pool.checkedin(), 1)
  t.equal(pool.checkedout(), 0)
  t.equal(pool.stats().connects, 1)
})

t.test('hundreds of abandoned waiters: the queue empties and the pool serves only live callers', async (t) => {
  const pool = await realPool(t, QueuePool, { poolSize: 2, maxOverflow: 1, timeout: 10_000 })
  const held = await Promise.all([pool.connect(), pool.connect(), pool.connect()])
  const live: Promise<PooledConnection>[] = []
  const dead: Promise<PooledConnection>[] = []
  const controllers: AbortController[] = []
  for (let i = 0; i < 300; i++) {
    if (i % 10 === 0) {
      live.push(pool.connect())
    } else {
      const c = new AbortController()
      controllers.push(c)
      dead.push(pool.connect({ signal: c.signal }))
    }
  }
  // Abort in a random order, in two waves.
  controllers.sort(() => Math.random() - 0.5)
  controllers.forEach((c, i) => { if (i % 3 === 0) c.abort() })
  t.equal(pool.stats().waiting, 300 - Math.ceil(controllers.length / 3))
  for (const c of controllers) c.abort()
  t.equal(pool.stats().waiting, 30)
  for (const h of held) await h.close()
  const results = await Promise.allSettled(dead)
  t.ok(results.every((r) => r.status === 'rejected'), 'no abandoned checkout was served')
  const served = await Promise.all(live.map(async (p) => { const h = await p; await h.close(); return h }))
  t.equal(served.length, 30)
  t.equal(pool.stats().waiting, 0)
  t.equal(pool.stats().checkouts, 3 + 30, 'checkouts count only live callers')
  t.equal(pool.stats().abandoned, 270)
  t.equal(pool.checkedout(), 0)
})

t.test('a per-checkout timeout shorter than the pool timeout applies to that checkout only', async (t) => {
  const pool = await realPool(t, QueuePool, { poolSize: 1, maxOverflow: 0, timeout: 5000 })
  const held = await pool.connect()
  const started = performance.now()
  const long = pool.connect()
  const short = pool.connect({ timeout: 100 })
  const err = await short.then(() => undefined, (e: unknown) => e)
  const took = performance.now() - started
  t.ok(err instanceof PoolTimeoutError)
  t.match((err as Error).message, /timeout 0\.10$/)
  t.ok(took >= 90 && took < 2000, `timed out after ~100 ms (${took.toFixed(0)})`)
  t.equal(pool.stats().waiting, 1, 'the other waiter is still queued')
  await held.close()
  const h = await long
  await h.close()
  t.equal(pool.stats().timeouts, 1)
})

t.test('pool-timeout waiters behind a short-timeout waiter still time out on time', async (t) => {
  const pool = await realPool(t, QueuePool, { poolSize: 1, maxOverflow: 0, timeout: 150 })
  const held = await pool.connect()
  const own = pool.connect({ timeout: 10_000 }) // longer than the pool's: the pool's applies
  const short = pool.connect({ timeout: 50 })
  const normal = pool.connect()
  await t.rejects(short, PoolTimeoutError)
  await t.rejects(own, PoolTimeoutError)
  await t.rejects(normal, PoolTimeoutError)
  t.equal(pool.stats().waiting, 0)
  t.equal(pool.stats().timeouts, 3)
  await held.close()
})

t.test('controlled delay: once the queue stays non-empty past queueInterval, new waiters get queueTarget', async (t) => {
  const pool = await realPool(t, QueuePool, { poolSize: 1, maxOverflow: 0, timeout: 5000, queueTarget: 20, queueInterval: 50 })
  const held = await pool.connect()
  const early = pool.connect() // the queue was empty: the normal timeout applies
  await sleep(80) // non-empty for longer than queueInterval: congested
  const started = performance.now()
  const err = await pool.connect().then(() => undefined, (e: unknown) => e)
  const took = performance.now() - started
  t.ok(err instanceof PoolTimeoutError, 'refused with PoolTimeoutError')
  t.ok(took < 1000, `refused fast (${took.toFixed(0)} ms), not after the 5 s timeout`)
  t.equal(pool.stats().waiting, 1, 'the early waiter still waits')
  await held.close()
  const h = await early
  await h.close()
  // The queue emptied: the next waiter gets the normal timeout again.
  const held2 = await pool.connect()
  const next = pool.connect()
  await sleep(40)
  t.equal(pool.stats().waiting, 1, 'not refused at queueTarget while the queue is young')
  await held2.close()
  await (await next).close()
})

t.test('adaptive LIFO: while congested the newest waiter is served first; FIFO otherwise', async (t) => {
  const pool = await realPool(t, QueuePool, { poolSize: 1, maxOverflow: 0, timeout: 5000, adaptiveLifo: true, queueInterval: 30 })
  const held = await pool.connect()
  const order: number[] = []
  // Each waiter gives its connection back as soon as it gets it.
  const waits = [0, 1, 2].map((i) => pool.connect().then(async (h) => { order.push(i); await h.close() }))
  await sleep(60) // congested now
  await held.close()
  await Promise.all(waits)
  t.same(order, [2, 1, 0], 'newest first while the queue stayed congested')
  t.equal(pool.checkedout(), 0)
})

/** 25 checkouts of `ms` each: more than failFast needs (20) before it trusts its estimate of the hold time. */
async function teachHoldTime (pool: QueuePool, ms: number): Promise<void> {
  for (let i = 0; i < 25; i++) {
    const h = await pool.connect()
    await sleep(ms)
    await h.close()
  }
}

/** The pool's own estimate of the wait behind `ahead` checkouts (what failFast decides on). */
function expectedWait (pool: QueuePool, ahead: number, slots: number): number | undefined {
  return (pool as unknown as { _expectedWait: (ahead: number, slots: number) => number | undefined })._expectedWait(ahead, slots)
}

t.test('failFast: a checkout the queue ahead cannot serve in time is refused at once; the others are served', async (t) => {
  const pool = await realPool(t, QueuePool, { poolSize: 1, maxOverflow: 0, timeout: 600, failFast: true })
  await teachHoldTime(pool, 40)
  // Position k needs (k + 1) returns of the ~40 ms taught (later on a loaded machine), and is
  // admitted only if that, padded by the spread of hold times, fits in 90 % of its 600 ms.
  // The estimate is the measured hold time (mean + 4 deviations for one return): about the 40 ms taught.
  const one = expectedWait(pool, 0, 1) ?? NaN
  t.ok(one >= 38 && one <= 100, `one return takes about the hold time taught (${one.toFixed(1)} ms)`)
  const expectRefused = Array.from({ length: 20 }, (_v, k) => (expectedWait(pool, k, 1) ?? 0) > 600 * FAIL_FAST_HEADROOM).filter(Boolean).length
  t.ok(expectRefused >= 2 && expectRefused <= 12, `the estimate leaves the deepest positions out (${expectRefused} of 20)`)
  const held = await pool.connect()
  const start = performance.now()
  const outcomes = Array.from({ length: 20 }, async (_v, i) => {
    try {
      const h = await pool.connect()
      const servedAt = performance.now() - start
      // Shorter than taught: the admitted are served in time even when this machine's timers run
      // late here and not while teaching (what is under test is the decision, not the clock).
      await sleep(30)
      await h.close()
      return { i, servedAt, err: undefined, at: servedAt }
    } catch (err) {
      return { i, err, at: performance.now() - start, servedAt: -1 }
    }
  })
  // Synchronously decided, by the estimate read above.
  const refused = pool.stats().refused
  t.equal(refused, expectRefused, 'refused exactly the positions the estimate cannot serve in time')
  t.equal(pool.stats().waiting, 20 - refused)
  await held.close()
  const results = await Promise.all(outcomes)
  for (const r of results) {
    if (r.err !== undefined) {
      t.ok(r.err instanceof PoolTimeoutError, `position ${r.i}: PoolTimeoutError`)
      t.equal((r.err as PoolTimeoutError).refusedAtOnce, true)
      t.match((r.err as Error).message, /; refused at once \(poolFailFast\): the \d+ checkouts queued ahead need about \d+\.\d\d s at the measured hold time$/, 'the message says why it came at once')
      t.ok(r.i >= 20 - refused, `position ${r.i} refused: one of the deepest`)
      t.ok(r.at < 100, `position ${r.i} refused fast (${r.at.toFixed(0)} ms)`)
    } else {
      t.ok(r.i < 20 - refused, `position ${r.i} accepted and served at ${r.servedAt.toFixed(0)} ms`)
    }
  }
  t.equal(pool.checkedout(), 0)
})

t.test('failFast is on by default; failFast: false keeps SQLAlchemy\'s wait: the whole queue waits, the deepest time out', async (t) => {
  const byDefault = await realPool(t, QueuePool, { poolSize: 1, maxOverflow: 0, timeout: 200 })
  t.equal(byDefault.options.failFast, true, 'the default')
  await teachHoldTime(byDefault, 20)
  const heldA = await byDefault.connect()
  const refusedA = Array.from({ length: 20 }, () => byDefault.connect().then((h) => h.close(), (err: unknown) => err))
  t.ok(byDefault.stats().refused > 0, `the deep positions are refused at once by default (${byDefault.stats().refused})`)
  await heldA.close()
  await Promise.all(refusedA)

  const waiting = await realPool(t, QueuePool, { poolSize: 1, maxOverflow: 0, timeout: 200, failFast: false })
  await teachHoldTime(waiting, 20)
  const held = await waiting.connect()
  const start = performance.now()
  const outcomes = Array.from({ length: 20 }, () => waiting.connect().then(async (h) => { await sleep(20); await h.close(); return undefined }, (err: unknown) => ({ err, at: performance.now() - start })))
  t.equal(waiting.stats().refused, 0, 'nothing refused at once')
  t.equal(waiting.stats().waiting, 20, 'every checkout queued')
  await held.close()
  const failed = (await Promise.all(outcomes)).filter((o) => o !== undefined)
  t.ok(failed.length > 0, `the deepest waited out their timeout (${failed.length} of 20)`)
  for (const f of failed) {
    t.ok(f.err instanceof PoolTimeoutError)
    t.equal((f.err as PoolTimeoutError).refusedAtOnce, false)
    t.notMatch((f.err as Error).message, /refused at once/)
    t.ok(f.at >= 190, `after the whole wait (${f.at.toFixed(0)} ms)`)
  }
  t.equal(waiting.checkedout(), 0)
})

t.test('failFast refuses nothing before it has measured enough checkouts', async (t) => {
  const pool = await realPool(t, QueuePool, { poolSize: 1, maxOverflow: 0, timeout: 300, failFast: true })
  const held = await pool.connect()
  const waits = Array.from({ length: 20 }, () => pool.connect())
  t.equal(pool.stats().waiting, 20, 'all queued: no estimate yet')
  t.equal(pool.stats().refused, 0)
  await held.close()
  for (const w of waits) await (await w).close()
})
