import t from 'tap'
import { fmtInt, fmtNum, fmtPct, fmtRatio, median, medianRatio, quantile, table } from '../../bench/stats'

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
