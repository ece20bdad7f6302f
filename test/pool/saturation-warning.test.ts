/**
 * The saturation warning is a signal, not a log line per wait: a pool busy at its limit empties its
 * queue and fills it again many times a second, and a warning per episode (with the pool's stats on
 * each) was a line per ten requests under the plain-route benchmark's load.
 */
import t from 'tap'
import { QueuePool } from '../../lib/pool'
import { SATURATION_WARNING_INTERVAL_MS } from '../../lib/pool/queue-pool'
import { fakeLogger, realPool, sleep } from '../helpers/pool'

const saturated = (msg: string | undefined): boolean => /^Connection pool saturated/.test(msg ?? '')

t.test('at most one saturation warning per interval, however many times the queue fills again', async (t) => {
  const logger = fakeLogger()
  const pool = await realPool(t, QueuePool, { poolSize: 1, maxOverflow: 0, timeout: 30_000, logger })
  /** One saturation episode: the connection is held, `waiters` checkouts queue, then all are served and the queue empties. */
  const episode = async (waiters: number): Promise<void> => {
    const held = await pool.connect()
    const queued = Array.from({ length: waiters }, () => pool.connect().then(async (h) => { await h.close() }))
    t.equal(pool.stats().waiting, waiters, 'the checkouts wait')
    await held.close()
    await Promise.all(queued)
    t.equal(pool.stats().waiting, 0, 'the queue emptied')
  }

  await episode(2)
  const first = logger.at('warn').filter((c) => saturated(c.msg))
  t.equal(first.length, 1, 'the first wait warns')
  t.match(first[0].obj, { dbPool: { size: 1, checkedOut: 1, waiting: 1 } }, 'with the pool stats when the first checkout queued')
  t.notOk('waitsSinceLastWarning' in first[0].obj, 'nothing to count before the first warning')
  t.match(first[0].msg, /at most one such warning every 10 s/, 'the message says how often it can repeat')

  for (let i = 0; i < 20; i++) await episode(3)
  t.equal(logger.at('warn').filter((c) => saturated(c.msg)).length, 1, '20 more episodes within the interval: no more warnings')

  await sleep(SATURATION_WARNING_INTERVAL_MS + 100)
  await episode(1)
  const warnings = logger.at('warn').filter((c) => saturated(c.msg))
  t.equal(warnings.length, 2, 'the first wait after the interval warns again')
  t.equal(warnings[1].obj.waitsSinceLastWarning, 2 - 1 + 20 * 3 + 1, 'and counts the checkouts that waited since the last warning: the first episode\'s second wait, 20 × 3, and this one')
  const ago = warnings[1].obj.lastWarningSecondsAgo as number
  // The episodes and a busy machine add to the interval: at least it, not exactly it.
  t.ok(ago >= SATURATION_WARNING_INTERVAL_MS / 1000 && ago < SATURATION_WARNING_INTERVAL_MS / 1000 + 30, `lastWarningSecondsAgo ${ago}: the time since the first warning`)
  t.equal(logger.at('warn').filter((c) => !saturated(c.msg)).length, 0, 'no other warnings')
})
