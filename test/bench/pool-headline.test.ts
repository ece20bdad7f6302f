import t from 'tap'
import { pairTable, summarisePair } from '../../bench/http/pair-summary'
import { parseHeadline, poolRuns } from '../../bench/pool-headline'

const r = (reqPerSec: number, cpuPerRequest: number): { reqPerSec: number, cpuPerRequest: number } => ({ reqPerSec, cpuPerRequest })

/** A results file with section 9 as the bench writes it: a heading naming the runtime, a per-round table per line. */
function resultsFile (runtime: string, lines: Record<string, Array<[number, number]>>): string {
  return [
    '## 8. Something else', '', '| 1 | 5 | 6 |', '',
    '## 9. The plain route against @fastify/mysql, paired rounds', '',
    `### GET /items/:id through \`request.db\` against @fastify/mysql's \`fastify.mysql.query\`, pool size 10, 32 connections — ${runtime}`, '',
    ...Object.entries(lines).flatMap(([title, rounds]) => [
      `**${title}** (ours, @fastify/mysql):`, '',
      pairTable(summarisePair(rounds.map(([ours]) => r(ours, 100)), rounds.map(([, peer]) => r(peer, 110))), ['ours', 'peer']), ''
    ])
  ].join('\n')
}

t.test('parses the per-round tables of section 9, not the median rows or other sections', async (t) => {
  const run = parseHeadline(resultsFile('Node v24.21.0', { 'logger off, the defaults': [[1000, 1100], [12345, 10000]] }))
  t.equal(run.runtime, 'Node v24.21.0')
  t.same([...run.lines.keys()], ['logger off, the defaults'])
  const line = run.lines.get('logger off, the defaults')
  t.same(line?.ours, [r(1000, 100), r(12345, 100)], 'thousands separators read, CPU per request read')
  t.same(line?.peer, [r(1100, 110), r(10000, 110)])
  t.throws(() => parseHeadline('## 8. only\n'), /no section 9/)
})

t.test('pooling adds the rounds of every run and reads the verdict from the pooled interval', async (t) => {
  // Ten rounds each at 1.02–1.06×: alone each run's interval is above the bar too; pooled, 20 rounds.
  const rounds = (base: number): Array<[number, number]> => Array.from({ length: 10 }, (_, i) => [Math.round((base + i * 0.004) * 1000), 1000])
  const a = parseHeadline(resultsFile('Node v20.20.2', { line: rounds(1.02) }))
  const b = parseHeadline(resultsFile('Node v20.20.2', { line: rounds(1.03) }))
  const [pooled] = poolRuns([a, b])
  t.equal(pooled.title, 'line')
  t.equal(pooled.runs, 2)
  t.equal(pooled.result.a.length, 20, 'twenty rounds')
  t.ok(pooled.result.reqInterval.coverage >= 0.95, 'a 95 % interval')
  t.ok(pooled.result.reqInterval.low >= 1.02 && pooled.result.reqRatio > 1.03, 'every ratio above 1.02')
  t.throws(() => poolRuns([a, parseHeadline(resultsFile('Node v24.21.0', { line: rounds(1) }))]), /different runtimes/)
})
