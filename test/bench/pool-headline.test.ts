import t from 'tap'
import { pairTable, summarisePair, verdict } from '../../bench/http/pair-summary'
import { parseHeadline, poolRuns } from '../../bench/pool-headline'

const r = (reqPerSec: number, cpuPerRequest: number): { reqPerSec: number, cpuPerRequest: number } => ({ reqPerSec, cpuPerRequest })

/**
 * A results file with section 9 as the bench writes it (a stamp, a heading naming the runtime, a
 * per-round table per line), between two other sections whose tables must not be read.
 */
function resultsFile (runtime: string, measured: string, lines: Record<string, Array<[number, number]>>): string {
  return [
    '# fastify-db-session benchmarks', '',
    '## 8. Something else', '', '**logger off** (ours, @fastify/mysql):', '', '| 1 | 5 | 6 | 1 | 1 | 1 | 1 |', '',
    '## 9. The plain route against @fastify/mysql, paired rounds', '',
    `_Measured ${measured} with \`BENCH_ONLY=headline npm run bench\` (793 s)._`, '',
    `### GET /items/:id through \`request.db\` against @fastify/mysql's \`fastify.mysql.query\`, pool size 10, 32 connections — ${runtime}`, '',
    ...Object.entries(lines).flatMap(([title, rounds]) => [
      `**${title}** (ours, @fastify/mysql):`, '',
      pairTable(summarisePair(rounds.map(([ours]) => r(ours, 100)), rounds.map(([, peer]) => r(peer, 110))), ['ours', 'peer']), ''
    ]),
    '## 10. A later section', '', '| 1 | 7 | 8 | 1 | 1 | 1 | 1 |', ''
  ].join('\n')
}

t.test('parses the per-round tables of section 9 alone, not the median rows or other sections', async (t) => {
  const run = parseHeadline(resultsFile('Node v24.21.0', '2026-12-01 07:14 UTC', { 'logger off, the defaults': [[1000, 1100], [12345, 10000]] }))
  t.equal(run.runtime, 'Node v24.21.0')
  t.equal(run.measured, '2026-12-01 07:14 UTC')
  t.same([...run.lines.keys()], ['logger off, the defaults'])
  const line = run.lines.get('logger off, the defaults')
  t.same(line?.ours, [r(1000, 100), r(12345, 100)], 'thousands separators read, CPU per request read; section 10\'s row not taken')
  t.same(line?.peer, [r(1100, 110), r(10000, 110)])
  t.equal(parseHeadline(resultsFile('Node v24.21.0', 'x', { a: [[1, 1]] }).replace(/\n/g, '\r\n')).lines.size, 1, 'CRLF line endings read too')
  t.throws(() => parseHeadline('# x\n\n## 8. only\n'), /no section 9/)
  t.throws(() => parseHeadline(resultsFile('Node v20.20.2', 'x', { a: [[1, 1]] }).replace('| 1.00× |', '| n/a |')), /not a number in a per-round table: 'n\/a'/)
})

t.test('pooling adds the rounds of every run: two runs within the noise can make one verdict', async (t) => {
  // Each run alone: the 2nd smallest of its 10 ratios is 0.99, so its interval straddles the bar.
  // Pooled, the interval is the 6th to the 15th of 20: 1.03 and up, met.
  const ratios = [0.97, 0.99, 1.03, 1.04, 1.05, 1.06, 1.07, 1.08, 1.09, 1.1]
  const rounds = ratios.map((x): [number, number] => [Math.round(x * 1000), 1000])
  const a = parseHeadline(resultsFile('Node v20.20.2', '2026-12-01 06:44 UTC', { line: rounds }))
  const b = parseHeadline(resultsFile('Node v20.20.2', '2026-12-01 07:27 UTC', { line: rounds }))
  const alone = summarisePair(a.lines.get('line')?.ours ?? [], a.lines.get('line')?.peer ?? [])
  t.equal(verdict(alone.reqInterval, 1), 'within the noise', 'one run alone')
  const [pooled] = poolRuns([a, b])
  t.equal(pooled.title, 'line')
  t.equal(pooled.runs, 2)
  t.equal(pooled.result.a.length, 20, 'twenty rounds')
  t.equal(pooled.result.reqInterval.low, 1.03, 'the 6th smallest of the 20 ratios')
  t.ok(pooled.result.reqInterval.coverage >= 0.95)
  t.equal(verdict(pooled.result.reqInterval, 1), 'met', 'both runs pooled')
  t.throws(() => poolRuns([a, a]), /same run is given twice/)
  t.throws(() => poolRuns([a, parseHeadline(resultsFile('Node v24.21.0', 'y', { line: rounds }))]), /different runtimes/)
})
