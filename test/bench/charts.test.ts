import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import t, { type Test } from 'tap'
import { barChart, fmtTick, lineChart, niceScale, ratioChart, writeChart } from '../../bench/charts'

/** Every element opened is closed, and the document is one <svg> root: a cheap well-formedness check. */
function wellFormed (t: Test, svg: string): void {
  t.match(svg, /^<svg xmlns="http:\/\/www\.w3\.org\/2000\/svg" width="\d+" height="\d+" viewBox="0 0 \d+ \d+"/)
  t.ok(svg.trimEnd().endsWith('</svg>'))
  const opened = (svg.match(/<(svg|text)\b/g) ?? []).length
  const closed = (svg.match(/<\/(svg|text)>/g) ?? []).length
  t.equal(opened, closed, 'every <svg>/<text> closed')
  t.notMatch(svg, /NaN|undefined|Infinity/, 'no broken numbers in the drawing')
}

t.test('niceScale rounds up to 1/2/2.5/5 × 10^k steps', async (t) => {
  t.same(niceScale(13021), { max: 15000, step: 5000 })
  t.same(niceScale(11000), { max: 12500, step: 2500 })
  t.same(niceScale(997), { max: 1000, step: 200 })
  t.same(niceScale(1.08), { max: 1.25, step: 0.25 })
  t.same(niceScale(0), { max: 1, step: 0.2 })
  t.same(niceScale(NaN), { max: 1, step: 0.2 })
  t.equal(fmtTick(15000), '15k')
  t.equal(fmtTick(2500, 15000), '2.5k', 'k on an axis that reaches 10,000')
  t.equal(fmtTick(0, 15000), '0')
  t.equal(fmtTick(1250, 1250), '1,250', 'in full below 10,000')
  t.equal(fmtTick(0.25), '0.25')
})

t.test('lineChart: one point per category, labels escaped, notes drawn', async (t) => {
  const svg = lineChart({
    title: 'Pool sizing <ours> & "peers"',
    xLabel: 'poolSize',
    yLabel: 'req/s',
    categories: ['1', '2', '4'],
    series: [{ name: 'req/s', values: [6355, 7531, 9515], notes: ['p99 16.5 ms', 'p99 13.2 ms', 'p99 12.8 ms'] }]
  })
  wellFormed(t, svg)
  t.equal((svg.match(/<circle /g) ?? []).length, 3)
  t.match(svg, /Pool sizing &lt;ours&gt; &amp; &quot;peers&quot;/)
  t.match(svg, />9,515</)
  t.match(svg, />p99 12\.8 ms</)
  const two = lineChart({ title: 't', xLabel: 'x', yLabel: 'y', categories: ['a', 'b'], series: [{ name: 'one', values: [1, 2] }, { name: 'two', values: [3, NaN] }] })
  wellFormed(t, two)
  t.match(two, />two</, 'a legend when there are several series')
})

t.test('barChart: a bar per finite value, reference lines labelled', async (t) => {
  const svg = barChart({
    title: 'Goodput',
    subtitle: 'sub',
    yLabel: 'per second',
    categories: ['ours', 'peer'],
    series: [{ name: '2×', values: [236, 74] }, { name: '4×', values: [97, NaN] }],
    references: [{ value: 174, label: 'capacity 174 req/s' }],
    format: (v) => `${v}!`
  })
  wellFormed(t, svg)
  // 3 bars plus the white background and the legend's two swatches.
  t.equal((svg.match(/<rect /g) ?? []).length, 1 + 3 + 2)
  t.match(svg, />capacity 174 req\/s</)
  t.match(svg, />236!</)
  t.match(svg, /stroke-dasharray/)
})

t.test('ratioChart: groups, highlighted rows, the reference line', async (t) => {
  const svg = ratioChart({
    title: 'HTTP',
    groups: [
      { name: 'logger off', rows: [{ label: 'peer', value: 1 }, { label: 'ours', value: 1.04, ours: true }] },
      { name: 'logger on', rows: [{ label: 'ours', value: NaN, ours: true }] }
    ]
  })
  wellFormed(t, svg)
  t.match(svg, />1\.04×</)
  t.match(svg, />n\/a</)
  t.match(svg, />1\.00×</, 'the default reference label')
  t.equal((svg.match(/fill="#2563eb"/g) ?? []).length, 2, 'our rows in the highlight colour')
})

t.test('writeChart creates the folder and writes the file', async (t) => {
  const dir = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'charts-')), 'nested', 'charts')
  t.teardown(() => fs.rmSync(path.dirname(path.dirname(dir)), { recursive: true, force: true }))
  const file = writeChart(dir, 'x.svg', '<svg></svg>\n')
  t.equal(file, path.join(dir, 'x.svg'))
  t.equal(fs.readFileSync(file, 'utf8'), '<svg></svg>\n')
})
