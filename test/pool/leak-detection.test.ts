import t from 'tap'
import { QueuePool } from '../../lib/pool'
import { fakeLogger, realPool, sleep } from '../helpers/pool'

t.test('leakDetectionThreshold: warn once with the stack, info "unleaked" on return', async (t) => {
  const logger = fakeLogger()
  const pool = await realPool(t, QueuePool, { poolSize: 1, maxOverflow: 0, leakDetectionThreshold: 100, logger })
  const h = await pool.connect()
  await sleep(350)
  const warns = logger.at('warn').filter((c) => /leak detection/i.test(c.msg ?? ''))
  t.equal(warns.length, 1, 'warned once')
  t.match(warns[0].obj, { leakDetectionThreshold: 100, stack: /leak-detection\.test\.ts/ })
  await h.close()
  const infos = logger.at('info').filter((c) => /unleaked/.test(c.msg ?? ''))
  t.equal(infos.length, 1)
})

t.test('a connection returned in time is never reported', async (t) => {
  const logger = fakeLogger()
  const pool = await realPool(t, QueuePool, { poolSize: 1, maxOverflow: 0, leakDetectionThreshold: 100, logger })
  const h = await pool.connect()
  await h.close()
  await sleep(200)
  t.equal(logger.calls.filter((c) => /leak/i.test(c.msg ?? '')).length, 0)
})
