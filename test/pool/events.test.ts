import t from 'tap'
import { QueuePool } from '../../lib/pool'
import { fakeLogger, realPool } from '../helpers/pool'

const ALL = ['connect', 'checkout', 'checkin', 'reset', 'invalidate', 'close'] as const

function record (pool: QueuePool): string[] {
  const events: string[] = []
  for (const ev of ALL) pool.on(ev, () => events.push(ev))
  return events
}

t.test('event order (SQLAlchemy traces)', async (t) => {
  const pool = await realPool(t, QueuePool, { poolSize: 1, maxOverflow: 1 })
  const events = record(pool)
  const h = await pool.connect()
  t.same(events, ['connect', 'checkout'], 'first checkout')
  events.length = 0
  await h.query('INSERT INTO nowhere_table_that_does_not_exist VALUES (1)').catch(() => {})
  await h.close()
  t.same(events, ['reset', 'checkin'], 'return')
  events.length = 0
  const again = await pool.connect()
  t.same(events, ['checkout'], 're-checkout')
  const over = await pool.connect()
  await again.close()
  events.length = 0
  await over.close()
  t.same(events, ['reset', 'checkin', 'close'], 'overflow return with the queue full')
  events.length = 0
  const h3 = await pool.connect()
  h3.invalidate()
  t.same(events, ['checkout', 'invalidate', 'close', 'checkin'])
})

t.test('checkin carries null for an invalidated connection', async (t) => {
  const pool = await realPool(t, QueuePool, { poolSize: 1, maxOverflow: 0 })
  const seen: unknown[] = []
  pool.on('checkin', (conn) => seen.push(conn))
  const h = await pool.connect()
  const raw = h.record?.connection
  await h.close()
  const h2 = await pool.connect()
  h2.invalidate()
  t.same(seen.map((c) => c === null ? null : c === raw), [true, null])
})

t.test('dispose() with one idle connection fires close', async (t) => {
  const pool = await realPool(t, QueuePool, { poolSize: 1, maxOverflow: 0 })
  const h = await pool.connect()
  await h.close()
  const events = record(pool)
  await pool.dispose()
  t.same(events, ['close'])
})

t.test('a listener that throws does not break the pool', async (t) => {
  const logger = fakeLogger()
  const pool = await realPool(t, QueuePool, { poolSize: 1, maxOverflow: 0, logger })
  pool.on('checkout', () => { throw new Error('listener bug') })
  pool.on('checkin', () => { throw new Error('listener bug') })
  for (let i = 0; i < 3; i++) {
    const h = await pool.connect()
    await h.close()
  }
  t.equal(pool.checkedout(), 0, 'every connection came back')
  t.equal(pool.checkedin(), 1)
  t.equal(logger.at('error').filter((c) => /listener threw/.test(c.msg ?? '')).length, 6, 'each throw is logged')
})
