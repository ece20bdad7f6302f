/** failFast's estimator: untrusted until 20 checkouts, exact for constant holds, padded for varying ones. */
import t from 'tap'
import { HoldTime } from '../../lib/pool/hold-time'

t.test('no estimate before 20 measured checkouts: failFast refuses nothing on a cold pool', async (t) => {
  const h = new HoldTime()
  for (let i = 0; i < 19; i++) h.add(20)
  t.equal(h.mean(), undefined)
  t.equal(h.expectedWait(100, 5), undefined)
  h.add(20)
  t.equal(h.mean(), 20)
})

t.test('constant hold times: the wait is the returns needed at the pool turnover, with no padding', async (t) => {
  const h = new HoldTime()
  for (let i = 0; i < 50; i++) h.add(20)
  t.equal(h.deviation(), 0)
  // 10 ahead + itself = 11 returns, 5 connections each returning every 20 ms: 44 ms.
  t.equal(h.expectedWait(10, 5), 44)
  t.equal(h.expectedWait(0, 1), 20)
})

t.test('varying hold times pad the wait by four deviations over √returns / slots', async (t) => {
  const h = new HoldTime()
  for (let i = 0; i < 60; i++) h.add(i % 2 === 0 ? 10 : 30)
  const mean = h.mean() ?? NaN
  const dev = h.deviation()
  t.ok(mean > 15 && mean < 25, `mean near 20 (${mean})`)
  t.ok(dev > 5, `deviation measured (${dev})`)
  const ahead = 99
  t.equal(h.expectedWait(ahead, 5), 100 * mean / 5 + 4 * dev * 10 / 5)
  t.ok((h.expectedWait(ahead, 5) ?? 0) > 100 * mean / 5, 'padded above the mean turnover')
})

t.test('the mean follows a change of load within ~20 checkouts', async (t) => {
  const h = new HoldTime()
  for (let i = 0; i < 100; i++) h.add(20)
  for (let i = 0; i < 20; i++) h.add(100)
  t.ok((h.mean() ?? 0) > 90, `mean moved to the new hold time (${h.mean()})`)
})
