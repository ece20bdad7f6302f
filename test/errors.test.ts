import t from 'tap'
import {
  AlreadyCheckedOutError, DatabaseUnavailableError, DbError, DriverTimeoutError, InvalidOptionError,
  PoolClosedError, PoolTimeoutError
} from '../lib/errors'
import { newCounters } from '../lib/pool/stats'

const stats = { size: 5, checkedIn: 0, checkedOut: 15, overflow: 10, waiting: 1, ...newCounters() }

t.test('PoolTimeoutError', async (t) => {
  const cause = new Error('refused')
  const e = new PoolTimeoutError(5, 10, 30_000, stats, cause)
  t.ok(e instanceof DbError)
  t.equal(e.message, 'QueuePool limit of size 5 overflow 10 reached, connection timed out, timeout 30.00')
  t.equal(e.code, 'FST_DB_POOL_TIMEOUT')
  t.equal(e.statusCode, 503)
  t.equal(e.cause, cause)
  t.equal(e.stats, stats)
  t.same(e.headers, { 'retry-after': '30' })
  t.equal(e.name, 'PoolTimeoutError')
  t.equal(new PoolTimeoutError(3, 2, 300, stats).message, 'QueuePool limit of size 3 overflow 2 reached, connection timed out, timeout 0.30')
  t.equal(new PoolTimeoutError(3, 2, 300, stats).retryAfter, 1)
  t.equal(e.refusedAtOnce, false)
  const refused = new PoolTimeoutError(1, 0, 500, stats, undefined, undefined, { ahead: 107, expectedMs: 463.2 })
  t.equal(refused.message, 'QueuePool limit of size 1 overflow 0 reached, connection timed out, timeout 0.50; refused at once (poolFailFast): the 107 checkouts queued ahead need about 0.46 s at the measured hold time')
  t.equal(refused.refusedAtOnce, true)
  t.same(refused.headers, { 'retry-after': '1' })
})

t.test('codes are stable', async (t) => {
  t.equal(new PoolClosedError().code, 'FST_DB_POOL_CLOSED')
  t.equal(new DatabaseUnavailableError({ code: 'ECONNREFUSED' }).message, 'Cannot connect to the database (ECONNREFUSED)')
  t.equal(new DatabaseUnavailableError(new Error('x')).message, 'Cannot connect to the database')
  t.match(new DriverTimeoutError('ping', 200), { code: 'FST_DB_DRIVER_TIMEOUT', operation: 'ping', timeoutMs: 200, message: 'Database ping did not answer within 200 ms' })
  t.match(new AlreadyCheckedOutError('connection is already checked out'), { code: 'FST_DB_ALREADY_CHECKED_OUT', statusCode: 500 })
  t.match(new InvalidOptionError('poolSize', 'bad'), { code: 'FST_DB_INVALID_OPTION', option: 'poolSize' })
})
