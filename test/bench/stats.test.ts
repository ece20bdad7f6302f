import t from 'tap'
import { fmtInt, fmtNum, fmtPct, fmtRatio, median, medianInterval, medianRatio, quantile, table } from '../../bench/stats'

t.test('median, quantile, medianRatio', async (t) => {
  t.equal(median([3, 1, 2]), 2)
  t.equal(median([4, 1, 3, 2]), 2.5)
  t.ok(Number.isNaN(median([])))
  const values = Float64Array.from([5, 1, 4, 2, 3, 99])
  t.equal(quantile(values, 5, 0.5), 3, 'only the first `count` values')
  t.equal(quantile(values, 5, 0.99), 5)
  t.equal(quantile(values, 5, 0), 1)
  t.ok(Number.isNaN(quantile(values, 0, 0.5)))
  t.equal(medianRatio([10, 20, 30], [10, 10, 10, 10]), 2, 'per-round ratios, over the shorter list')
})

t.test('formatting', async (t) => {
  t.equal(fmtInt(12345.6), '12,346')
  t.equal(fmtNum(1.234), '1.23')
  t.equal(fmtNum(1.25, 1), '1.3')
  t.equal(fmtRatio(0.987), '0.99×')
  t.same([0.00037, 0.042, 1].map(fmtPct), ['0.037 %', '4.2 %', '100 %'], 'the digits a share needs; 100 % not 1.0e+2 %')
  for (const f of [fmtInt, fmtNum, fmtRatio]) t.equal(f(NaN), 'n/a')
  t.equal(table(['a', 'b'], [['x', '1']]), '| a | b |\n| --- | ---: |\n| x | 1 |')
  t.equal(table(['a', 'b'], [], [true, false]), '| a | b |\n| ---: | --- |')
})

t.test('medianInterval: order statistics with the binomial coverage of the sign test', async (t) => {
  const ranks = (n: number): number[] => Array.from({ length: n }, (_, i) => n - i) // unsorted on purpose
  // The textbook intervals: n = 10 -> 2nd to 9th (1 - 2 * 11/1024), n = 20 -> 6th to 15th.
  t.same(medianInterval(ranks(10)), { low: 2, high: 9, coverage: 1 - 2 * 11 / 1024 })
  const twenty = medianInterval(ranks(20))
  t.same([twenty.low, twenty.high], [6, 15])
  t.ok(twenty.coverage >= 0.95 && twenty.coverage < 0.96, `coverage ${twenty.coverage}`)
  // Too few values for 95 %: the whole range, and the coverage says so.
  t.same(medianInterval(ranks(5)), { low: 1, high: 5, coverage: 1 - 2 / 32 })
  t.same(medianInterval(ranks(8)), { low: 1, high: 8, coverage: 1 - 2 / 256 }, '2nd to 7th would cover only 93 %')
  t.same(medianInterval([7]), { low: 7, high: 7, coverage: 0 })
  t.equal(medianInterval([]).coverage, 0)
  t.throws(() => medianInterval(new Array<number>(1001).fill(1)), /at most 1000 values, got 1001/)
  // A lower confidence narrows it, never past the middle.
  const loose = medianInterval(ranks(10), 0.5)
  t.ok(loose.low <= loose.high && loose.low >= 4, `${loose.low}..${loose.high}`)
  // Every interval, for every size, covers the median and stays within the values.
  for (let n = 1; n <= 40; n++) {
    const values = Array.from({ length: n }, (_, i) => Math.sin(i * 7.3) * 100)
    const { low, high, coverage } = medianInterval(values)
    t.ok(low <= median(values) && median(values) <= high && low >= Math.min(...values) && high <= Math.max(...values), `n = ${n}`)
    if (n >= 6) t.ok(coverage >= 0.95, `n = ${n}: coverage ${coverage}`)
  }
})
