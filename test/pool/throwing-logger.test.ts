/**
 * The pool logs from the middle of its bookkeeping: when a checkout queues (the saturation
 * warning), when the shared deadline sweep times waiters out, when a waiter with a deadline of its
 * own gives up. A logger that throws there (a serializer, a destination) must cost the log line,
 * never a waiter left queued with nobody to answer it, nor a connection handed to a settled promise.
 */
import t from 'tap'
import { PoolTimeoutError } from '../../lib/errors'
import { QueuePool } from '../../lib/pool'
import { guardLogger } from '../../lib/pool/logger'
import { realPool } from '../helpers/pool'

function throwingLogger (): { debug: () => never, info: () => never, warn: () => never, error: () => never, calls: number } {
  const log = {
    calls: 0,
    debug: (): never => { log.calls++; throw new Error('the destination is broken') },
    info: (): never => { log.calls++; throw new Error('the destination is broken') },
    warn: (): never => { log.calls++; throw new Error('the destination is broken') },
    error: (): never => { log.calls++; throw new Error('the destination is broken') }
  }
  return log
}

t.test('a logger that throws costs the log line, never a waiter or a connection', async (t) => {
  const warnings: Error[] = []
  const onWarning = (w: Error): void => { if (w.name === 'FastifyDbSessionWarning') warnings.push(w) }
  process.on('warning', onWarning)
  t.teardown(() => { process.off('warning', onWarning) })
  const logger = throwingLogger()
  const pool = await realPool(t, QueuePool, { poolSize: 1, maxOverflow: 0, timeout: 400, logger })

  // 1. The saturation warning is written while the checkout queues (inside its promise's executor).
  const held = await pool.connect()
  let settled = false
  const queued = pool.connect()
  queued.then(() => { settled = true }, () => { settled = true })
  t.equal(pool.stats().waiting, 1, 'the checkout waits although the saturation warning threw')
  await new Promise((resolve) => setTimeout(resolve, 50))
  t.equal(settled, false, 'still waiting, not rejected by what the logger threw')
  await held.close()
  const served = await queued
  t.equal(pool.stats().checkedOut, 1, 'and is served the connection when it comes back')
  t.equal(pool.stats().waiting, 0)

  // 2. The shared deadline sweep logs each timeout before rejecting the waiter.
  const started = performance.now()
  const timedOut = await pool.connect().then(() => 'served', (err: unknown) => err)
  const waited = performance.now() - started
  t.ok(timedOut instanceof PoolTimeoutError, 'a waiter past the pool timeout is rejected with PoolTimeoutError although its log line threw')
  t.ok(waited >= 350 && waited < 5000, `after about the pool timeout (${Math.round(waited)} ms)`)

  // 3. A waiter with a deadline of its own (a handler's time left) logs when it gives up too.
  const own = await pool.connect({ timeout: 100 }).then(() => 'served', (err: unknown) => err)
  t.ok(own instanceof PoolTimeoutError, 'a waiter past its own deadline is rejected although its log line threw')

  t.equal(pool.stats().waiting, 0, 'nobody left in the queue')
  await served.close()
  t.same({ checkedOut: pool.stats().checkedOut, checkedIn: pool.stats().checkedIn }, { checkedOut: 0, checkedIn: 1 }, 'the connection is back in the pool, not lost to a settled promise')
  const again = await pool.connect()
  t.equal(again.isValid, true, 'and serves the next checkout')
  await again.close()

  t.ok(logger.calls >= 3, `the pool did try to log (${logger.calls} calls)`)
  await new Promise((resolve) => setImmediate(resolve)) // warnings are emitted on the next tick
  t.equal(warnings.length, 1, 'the first throw is reported once, as a process warning')
  t.match(warnings[0].message, /logger threw \(the destination is broken\); the pool carried on/, 'saying what happened')
})

t.test('guarding a guarded logger changes nothing; whatever is thrown is reported without throwing again', async (t) => {
  const warnings: Error[] = []
  const onWarning = (w: Error): void => { if (w.name === 'FastifyDbSessionWarning') warnings.push(w) }
  process.on('warning', onWarning)
  t.teardown(() => { process.off('warning', onWarning) })
  const unprintable = Object.create(null) as object // String() of it throws: no toString
  const log = {
    debug: (): never => { throw unprintable },
    info: (): never => { throw unprintable },
    warn: (): never => { throw unprintable },
    error: (): never => { throw unprintable }
  }
  const once = guardLogger(log)
  t.equal(guardLogger(once), once, 'a second guard (the plugin\'s, then the pool\'s) is the same logger')
  t.doesNotThrow(() => { once.warn({}, 'a'); once.error({}, 'b') }, 'a thrown value that cannot be printed is swallowed too')
  await new Promise((resolve) => setImmediate(resolve))
  t.equal(warnings.length, 1, 'reported once')
  t.match(warnings[0].message, /logger threw \(a value that cannot be printed\)/)

  const odd = new Error('x')
  Object.defineProperty(odd, 'message', { value: Symbol('not a string') }) // String() of a Symbol works; a template literal throws
  const symbolMessage = guardLogger({ debug: () => { throw odd }, info: () => { throw odd }, warn: () => { throw odd }, error: () => { throw odd } })
  t.doesNotThrow(() => { symbolMessage.warn({}, 'c') }, 'an Error whose message is not a string is swallowed too')
  await new Promise((resolve) => setImmediate(resolve))
  t.equal(warnings.length, 2, 'and reported')
  t.match(warnings[1].message, /logger threw \(Symbol\(not a string\)\)/)
})
