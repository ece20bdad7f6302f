/**
 * The charts `npm run bench` writes (docs/charts/*.svg): each takes one section's results and
 * returns the file names it wrote. The README shows these files.
 */
import { barChart, lineChart, ratioChart, writeChart, type RatioRow } from './charts'
import type { OverloadResults } from './http/overload'
import type { PeerResults } from './http/peers'
import type { SizingResults } from './http/sizing'
import { fmtInt, fmtNum } from './stats'

export function sizingCharts (dir: string, r: SizingResults, date: string): string[] {
  return [writeChart(dir, 'pool-sizing.svg', lineChart({
    title: 'Pool sizing: throughput by poolSize (fastify-db-session, maxOverflow 0)',
    subtitle: `GET /items/:id, ${r.connections} concurrent clients; point labels: req/s and p99 · measured ${date}`,
    xLabel: 'poolSize',
    yLabel: 'requests per second',
    categories: r.points.map((p) => String(p.poolSize)),
    series: [{ name: 'req/s', values: r.points.map((p) => p.reqPerSec), notes: r.points.map((p) => `p99 ${fmtNum(p.p99, 1)} ms`) }]
  }))]
}

export function overloadCharts (dir: string, r: OverloadResults, date: string): string[] {
  const factors = [...new Set(r.runs.map((x) => x.factor))]
  const run = (variant: number, factor: number): OverloadResults['runs'][number] | undefined =>
    r.runs.find((x) => x.variant === r.variants[variant] && x.factor === factor)
  const categories = r.variants.map((v) => v.short)
  const rateOf = (factor: number): number => r.runs.find((x) => x.factor === factor)?.rate ?? NaN
  const goodput = barChart({
    title: 'Overload: goodput (2xx answered in time) per second',
    subtitle: `SELECT SLEEP(0.02), pool 5, open-loop arrivals, clients give up after ${r.timeoutMs} ms, pool wait bound ${r.poolTimeoutMs} ms (not @fastify/mysql) · ${date}`,
    yLabel: 'answered in time per second',
    categories,
    series: factors.map((f) => ({ name: `${f}× capacity (${fmtInt(rateOf(f))} req/s offered)`, values: r.variants.map((_, i) => run(i, f)?.load.goodput ?? NaN) })),
    references: [{ value: r.capacity, label: `capacity ${fmtInt(r.capacity)} req/s (closed loop)` }]
  })
  const latency = barChart({
    title: 'Overload: latency of the requests answered in time',
    subtitle: `p50 and p99 of the 2xx answers, ms; client timeout ${r.timeoutMs} ms · measured ${date}`,
    yLabel: 'milliseconds',
    categories,
    series: factors.flatMap((f) => [
      { name: `p50 at ${f}×`, values: r.variants.map((_, i) => run(i, f)?.load.p50 ?? NaN) },
      { name: `p99 at ${f}×`, values: r.variants.map((_, i) => run(i, f)?.load.p99 ?? NaN) }
    ]),
    references: [{ value: r.timeoutMs, label: `client timeout ${r.timeoutMs} ms` }]
  })
  return [writeChart(dir, 'overload-goodput.svg', goodput), writeChart(dir, 'overload-latency.svg', latency)]
}

/** Table labels carry markdown code spans; an image shows the plain text. */
const ratioRows = (rows: PeerResults['loggerOff']): RatioRow[] => rows.map((x) => ({ label: x.label.replace(/`/g, ''), value: x.ratio, ours: x.ours }))

export function peerCharts (dir: string, r: PeerResults, date: string): string[] {
  return [writeChart(dir, 'http-comparison.svg', ratioChart({
    title: 'HTTP: req/s relative to @fastify/mysql\'s shared pool (higher is better)',
    subtitle: `GET /items/:id, one primary-key SELECT, pool 10; logging rows against @fastify/mysql with the same logger · measured ${date}`,
    groups: [
      { name: 'logger off', rows: ratioRows(r.loggerOff) },
      { name: 'logger: true on both sides (info, pino → /dev/null)', rows: ratioRows(r.loggerOn) }
    ],
    referenceLabel: '@fastify/mysql = 1.00×'
  }))]
}
