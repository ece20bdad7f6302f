/**
 * The charts `npm run bench` draws into docs/charts/: each section's figures are kept there as
 * `<section>.json` next to its SVGs, so `npm run bench:charts` can redraw every chart (after a
 * change to the drawing) without measuring again. The README shows the SVGs.
 */
import fs from 'node:fs'
import path from 'node:path'
import { barChart, lineChart, ratioChart, writeChart, type RatioRow } from './charts'
import type { OverloadResults } from './http/overload'
import type { PeerResults, PeerRow } from './http/peers'
import type { SizingPoint, SizingResults } from './http/sizing'
import { fmtInt, fmtNum } from './stats'

export interface SizingChartData {
  section: 'sizing'
  /** When it was measured (YYYY-MM-DD). */
  date: string
  connections: number
  points: SizingPoint[]
}

export interface OverloadChartData {
  section: 'overload'
  date: string
  capacity: number
  timeoutMs: number
  poolTimeoutMs: number
  /** Short variant names, in table order. */
  variants: string[]
  /** Per overload factor: offered rate and, per variant, goodput and latency of the 2xx. */
  factors: { factor: number, rate: number, goodput: number[], p50: number[], p99: number[] }[]
}

export interface PeerChartData {
  section: 'peers'
  date: string
  loggerOff: PeerRow[]
  loggerOn: PeerRow[]
}

export type ChartData = SizingChartData | OverloadChartData | PeerChartData

export function sizingData (r: SizingResults, date: string): SizingChartData {
  return { section: 'sizing', date, connections: r.connections, points: r.points }
}

export function overloadData (r: OverloadResults, date: string): OverloadChartData {
  const factors = [...new Set(r.runs.map((x) => x.factor))].map((factor) => {
    const runs = r.variants.map((v) => r.runs.find((x) => x.variant === v && x.factor === factor))
    return {
      factor,
      rate: runs.find((x) => x !== undefined)?.rate ?? NaN,
      goodput: runs.map((x) => x?.load.goodput ?? NaN),
      p50: runs.map((x) => x?.load.p50 ?? NaN),
      p99: runs.map((x) => x?.load.p99 ?? NaN)
    }
  })
  return { section: 'overload', date, capacity: r.capacity, timeoutMs: r.timeoutMs, poolTimeoutMs: r.poolTimeoutMs, variants: r.variants.map((v) => v.short), factors }
}

export function peerData (r: PeerResults, date: string): PeerChartData {
  return { section: 'peers', date, loggerOff: r.loggerOff, loggerOn: r.loggerOn }
}

function sizingCharts (dir: string, d: SizingChartData): string[] {
  return [writeChart(dir, 'pool-sizing.svg', lineChart({
    title: 'Pool sizing: throughput by poolSize (fastify-db-session, maxOverflow 0)',
    subtitle: `GET /items/:id, ${d.connections} concurrent clients; point labels: req/s and p99 · measured ${d.date}`,
    xLabel: 'poolSize',
    yLabel: 'requests per second',
    categories: d.points.map((p) => String(p.poolSize)),
    series: [{ name: 'req/s', values: d.points.map((p) => p.reqPerSec), notes: d.points.map((p) => `p99 ${fmtNum(p.p99, 1)} ms`) }]
  }))]
}

function overloadCharts (dir: string, d: OverloadChartData): string[] {
  const goodput = barChart({
    title: 'Overload: goodput (2xx answered in time) per second',
    subtitle: `SELECT SLEEP(0.02), pool 5, open loop, clients give up at ${d.timeoutMs} ms, pool wait bound ${d.poolTimeoutMs} ms · ${d.date}`,
    yLabel: 'answered in time per second',
    categories: d.variants,
    series: d.factors.map((f) => ({ name: `${f.factor}× capacity (${fmtInt(f.rate)} req/s offered)`, values: f.goodput })),
    references: [{ value: d.capacity, label: `capacity ${fmtInt(d.capacity)} req/s (closed loop)` }]
  })
  const latency = barChart({
    title: 'Overload: latency of the requests answered in time',
    subtitle: `p50 and p99 of the 2xx answers, ms; clients give up at ${d.timeoutMs} ms · ${d.date}`,
    yLabel: 'milliseconds',
    categories: d.variants,
    series: d.factors.flatMap((f) => [{ name: `p50 at ${f.factor}×`, values: f.p50 }, { name: `p99 at ${f.factor}×`, values: f.p99 }]),
    references: [{ value: d.timeoutMs, label: `client timeout ${d.timeoutMs} ms` }]
  })
  return [writeChart(dir, 'overload-goodput.svg', goodput), writeChart(dir, 'overload-latency.svg', latency)]
}

/** Table labels carry markdown code spans; an image shows the plain text. */
const ratioRows = (rows: PeerRow[], value: (r: PeerRow) => number): RatioRow[] => rows.map((x) => ({ label: x.label.replace(/`/g, ''), value: value(x), ours: x.ours }))

function peerCharts (dir: string, d: PeerChartData): string[] {
  const throughput = (r: PeerRow): number => r.ratio
  const efficiency = (r: PeerRow): number => r.cpuRatio
  return [writeChart(dir, 'http-comparison.svg', ratioChart({
    title: 'HTTP: relative to @fastify/mysql\'s shared pool (higher is better)',
    subtitle: `GET /items/:id, one primary-key SELECT, pool 10; logging rows against @fastify/mysql with the same logger · ${d.date}`,
    groups: [
      { name: 'requests per second, logger off', rows: ratioRows(d.loggerOff, throughput) },
      { name: 'requests per second, logger: true on both sides', rows: ratioRows(d.loggerOn, throughput) },
      { name: 'requests per CPU-second of the server, logger off', rows: ratioRows(d.loggerOff, efficiency) },
      { name: 'requests per CPU-second of the server, logger: true on both sides', rows: ratioRows(d.loggerOn, efficiency) }
    ],
    referenceLabel: '@fastify/mysql = 1.00×'
  }))]
}

/** Keeps the section's figures as `<section>.json` and draws its charts; returns the files written. */
export function drawCharts (dir: string, d: ChartData, keepData = true): string[] {
  const files = keepData ? [writeChart(dir, `${d.section}.json`, JSON.stringify(d, null, 2) + '\n')] : []
  switch (d.section) {
    case 'sizing': return [...files, ...sizingCharts(dir, d)]
    case 'overload': return [...files, ...overloadCharts(dir, d)]
    case 'peers': return [...files, ...peerCharts(dir, d)]
  }
}

/** Redraws every chart whose figures are kept in `dir`; JSON's null (a NaN when written) reads back as NaN. */
export function redrawAll (dir: string): string[] {
  const files: string[] = []
  for (const name of fs.readdirSync(dir).filter((f) => f.endsWith('.json')).sort()) {
    const data = JSON.parse(fs.readFileSync(path.join(dir, name), 'utf8'), (_key, value: unknown) => (value === null ? NaN : value)) as ChartData
    files.push(...drawCharts(dir, data, false))
  }
  return files
}
