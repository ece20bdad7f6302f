import t from 'tap'
import { fmtInterval, pairTable, summarisePair, verdict } from '../../bench/http/pair-summary'

const r = (reqPerSec: number, cpuPerRequest: number): { reqPerSec: number, cpuPerRequest: number } => ({ reqPerSec, cpuPerRequest })

t.test('paired rounds: per-round ratios, the ratio of the medians, rounds ahead', async (t) => {
  // Round 3 is a burst of noise that hits only a: the median of per-round ratios shrugs it off.
  const a = [r(110, 90), r(105, 95), r(40, 250), r(120, 80)]
  const b = [r(100, 100), r(100, 100), r(100, 100), r(100, 100)]
  const s = summarisePair(a, b)
  t.equal(s.reqRatio, (1.05 + 1.1) / 2, 'median of 1.10, 1.05, 0.40, 1.20')
  t.equal(s.reqRatioOfMedians, 107.5 / 100)
  t.equal(s.cpuRatio, (100 / 95 + 100 / 90) / 2, 'requests per CPU-second, b ÷ a per round')
  t.equal(s.aheadRounds, 3, 'a tie counts as ahead; round 3 does not')
  t.equal(summarisePair([r(100, 1)], [r(100, 1)]).aheadRounds, 1)
  t.throws(() => summarisePair(a, b.slice(1)), /paired rounds: 4 against 3/)
  t.throws(() => summarisePair([], []), /paired rounds/)
})

t.test('pairTable: a row per round and the medians, columns named after the variants', async (t) => {
  const table = pairTable(summarisePair([r(110, 90), r(90, 110)], [r(100, 100), r(100, 100)]), ['ours', 'peer'])
  const lines = table.split('\n')
  t.match(lines[0], /\| round \| req\/s ours \| req\/s peer \| req\/s ratio \| CPU µs\/request ours \| CPU µs\/request peer \|/)
  t.equal(lines.length, 2 + 2 + 1, 'header, separator, two rounds, the median row')
  t.match(lines[2], /\| 1 \| 110 \| 100 \| 1\.10× \|/)
  t.match(lines[4], /\| \*\*median\*\* \| 100 \| 100 \| \*\*1\.00×\*\* \|/)
})

t.test('the median ratio\'s interval and the verdict against a goal', async (t) => {
  const rounds = (ratios: number[]): ReturnType<typeof summarisePair> => summarisePair(ratios.map((x) => r(100 * x, 1)), ratios.map(() => r(100, 1)))
  const ahead = rounds([1.02, 1.05, 1.01, 1.08, 1.03, 1.04, 1.06, 1.02, 1.07, 1.03])
  t.same([ahead.reqInterval.low, ahead.reqInterval.high].map((x) => Math.round(x * 100) / 100), [1.02, 1.07], '2nd smallest to 2nd largest of 10')
  t.equal(verdict(ahead.reqInterval, 1), 'met')
  // 1.04x as the median, as in a real run, but three rounds below the bar: that is not a margin.
  const straddles = rounds([0.94, 0.95, 0.99, 1.02, 1.04, 1.04, 1.06, 1.07, 1.09, 1.11])
  t.equal(straddles.reqRatio, 1.04)
  t.equal(verdict(straddles.reqInterval, 1), 'within the noise')
  const behind = rounds([0.84, 0.91, 0.93, 0.95, 0.88, 0.9, 0.97, 0.92, 1.04, 0.93])
  t.equal(verdict(behind.reqInterval, 1), 'not met', 'one round ahead does not rescue it')
  t.equal(verdict({ low: 1, high: 1.2, coverage: 0.98 }, 1), 'met', 'the bar itself counts as met')
  t.equal(fmtInterval(straddles.reqInterval), '0.95–1.09× (97.9 %)', 'coverage 1 - 2 * 11/1024 = 97.85 %, rounded')
  t.equal(fmtInterval({ low: 0.9012, high: 0.9968, coverage: 0.959 }, 1), '0.90–0.997× (95.9 %)', 'a bound just under the bar does not print as 1.00')
  t.equal(fmtInterval({ low: 0.9961, high: 1.1, coverage: 0.959 }, 1), '0.996–1.10× (95.9 %)', 'nor one just under it as the low bound')
  t.equal(fmtInterval({ low: 1, high: 1.004, coverage: 0.959 }, 1), '1.00–1.004× (95.9 %)', 'the bar itself stays 1.00; just above gets a third decimal')
  t.equal(fmtInterval({ low: 0.9968, high: 1.1, coverage: 0.959 }), '1.00–1.10× (95.9 %)', 'without a goal: two decimals')
  t.equal(fmtInterval({ low: NaN, high: NaN, coverage: 0 }, 1), 'n/a–n/a× (0.0 %)')
  // Five rounds: even their whole range covers less than 95 %, so no verdict either way.
  const five = rounds([1.2, 1.3, 1.25, 1.4, 1.1])
  t.equal(five.reqInterval.coverage, 1 - 2 / 32)
  t.equal(verdict(five.reqInterval, 1), 'too few rounds')
  t.equal(verdict(rounds([1.1, 1.2, 1.3, 1.2, 1.1, 1.15]).reqInterval, 1), 'met', 'six rounds, all ahead: 96.9 %')
})
