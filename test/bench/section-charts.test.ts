import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import t from 'tap'
import { drawCharts, overloadData, peerData, redrawAll, sizingData, type ChartData } from '../../bench/section-charts'
import type { OverloadResults } from '../../bench/http/overload'
import { bestPeer, cellsOf, vsBest, type OverloadRun, type OverloadVariant } from '../../bench/http/overload-cells'

function tmpDir (t: { teardown: (fn: () => void) => void }): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'section-charts-'))
  t.teardown(() => fs.rmSync(dir, { recursive: true, force: true }))
  return dir
}

const variant = (short: string, ours: boolean): OverloadVariant => ({ label: short, short, ours, spec: { kind: ours ? 'ours' : 'knex', dbUrl: 'mysql://x', poolSize: 5 } })

t.test('overloadData: one series per factor, in variant order; a missing run is NaN', async (t) => {
  const [a, b] = [variant('ours', true), variant('knex', false)]
  const load = (goodput: number) => ({ sentPerSec: 400, goodput, goodputWithDrain: goodput, ok: 1, refused: 0, refusedMaxMs: 0, refusedSlow: 0, otherErrors: 0, unanswered: 0, p50: goodput / 10, p99: goodput / 5 })
  const probe = { waitingPeak: 1, statements: 1, samples: 1, cpuMicros: 100, refused: 0, waitedOut: 0, served503: { count: 0, slow: 0, maxMs: 0 }, loopStallMaxMs: 0 }
  const r: OverloadResults = {
    capacity: 200,
    capacityBefore: 199,
    capacityAfter: 201,
    timeoutMs: 1000,
    poolTimeoutMs: 500,
    duration: 7,
    markdown: '',
    variants: [a, b],
    runs: [
      { variant: b, factor: 2, rate: 400, load: load(150), probe },
      { variant: a, factor: 2, rate: 400, load: load(190), probe },
      { variant: a, factor: 4, rate: 800, load: load(180), probe }
    ]
  }
  const d = overloadData(r, '2026-11-30')
  t.same(d.variants, ['ours', 'knex'])
  t.same(d.factors.map((f) => [f.factor, f.rate, f.goodput[0], f.goodput[1]]), [[2, 400, 190, 150], [4, 800, 180, NaN]])
  t.same(d.factors[0].p99, [38, 30])
})

t.test('cellsOf: runs grouped by rate then variant, rounds kept in order, the median round picked; a pair without runs has no cell', async (t) => {
  const [a, b] = [variant('ours', true), variant('knex', false)]
  const run = (v: OverloadVariant, factor: number, goodput: number): OverloadRun => ({
    variant: v,
    factor,
    rate: factor * 100,
    load: { sentPerSec: 1, goodput, goodputWithDrain: goodput, ok: 1, refused: 0, refusedMaxMs: 0, refusedSlow: 0, otherErrors: 0, unanswered: 0, p50: 1, p99: 1 },
    probe: { waitingPeak: 1, statements: 1, samples: 1, cpuMicros: 1, refused: 0, waitedOut: 0, served503: { count: 0, slow: 0, maxMs: 0 }, loopStallMaxMs: 0 }
  })
  const runs = [run(a, 2, 230), run(b, 2, 233), run(a, 4, 9), run(a, 2, 236), run(b, 2, 229), run(a, 2, 231), run(a, 4, 7)]
  const cells = cellsOf(runs, [a, b], [2, 4])
  t.same(cells.map((c) => [c.factor, c.variant.short, c.rounds.map((r) => r.load.goodput), c.median.load.goodput]), [
    [2, 'ours', [230, 236, 231], 231],
    [2, 'knex', [233, 229], 229],
    [4, 'ours', [9, 7], 7]
  ], 'odd count: the middle; even count: the lower middle')
  const atTwo = cells.filter((c) => c.factor === 2)
  t.equal(bestPeer(atTwo), atTwo[1], 'the best peer is a peer, never ours')
  // Paired by round: 230/233 and 236/229; the third round of ours has no partner and is left out.
  t.equal(vsBest(atTwo[0], atTwo[1]), (230 / 233 + 236 / 229) / 2, 'the median of the per-round ratios')
})

t.test('drawCharts keeps the figures as JSON; redrawAll draws the same SVGs from them', async (t) => {
  const dir = tmpDir(t)
  const all: ChartData[] = [
    sizingData({ markdown: '', connections: 64, points: [{ poolSize: 1, reqPerSec: 6000, p50: 9, p99: 16 }, { poolSize: 2, reqPerSec: 7500, p50: 8, p99: 13 }] }, '2026-11-30'),
    peerData({ markdown: '', currentVsRequestDb: 1, contextVsNone: 1, loggerOff: [{ label: 'a `b`', ratio: 1, cpuRatio: 1.1, ours: false }], loggerOn: [{ label: 'c', ratio: NaN, cpuRatio: 0.9, ours: true }] }, '2026-11-30'),
    { section: 'overload', date: '2026-11-30', capacity: 200, timeoutMs: 1000, poolTimeoutMs: 500, variants: ['ours'], factors: [{ factor: 2, rate: 400, goodput: [190], p50: [60], p99: [NaN] }] }
  ]
  const written = all.flatMap((d) => drawCharts(dir, d)).map((f) => path.basename(f)).sort()
  t.same(written, ['http-comparison.svg', 'overload-goodput.svg', 'overload-latency.svg', 'overload.json', 'peers.json', 'pool-sizing.svg', 'sizing.json'])
  const before = Object.fromEntries(written.filter((f) => f.endsWith('.svg')).map((f) => [f, fs.readFileSync(path.join(dir, f), 'utf8')]))
  t.match(before['http-comparison.svg'], />a b</, 'code spans lose their backticks in the picture')
  t.match(fs.readFileSync(path.join(dir, 'peers.json'), 'utf8'), /"ratio": null/, 'NaN is kept as null')
  for (const f of Object.keys(before)) fs.rmSync(path.join(dir, f))
  const redrawn = redrawAll(dir).map((f) => path.basename(f)).sort()
  t.same(redrawn, Object.keys(before).sort())
  for (const f of redrawn) t.equal(fs.readFileSync(path.join(dir, f), 'utf8'), before[f], `${f} redrawn identically`)
})
