import t from 'tap'
import { pairTable, summarisePair } from '../../bench/http/pair-summary'

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
