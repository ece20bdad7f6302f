/**
 * Hand-made SVG charts for the benchmark results (no charting service, no dependency): a line
 * chart (the pool sizing curve), grouped vertical bars (overload goodput and latency) and
 * horizontal bars (ratios against a baseline). Plain SVG 1.1 with inline styles, so GitHub
 * renders it as an image and it reads the same in light and dark themes (white background).
 */
import fs from 'node:fs'
import path from 'node:path'

const FONT = 'font-family="-apple-system, Segoe UI, Helvetica, Arial, sans-serif"'
const PALETTE = ['#2563eb', '#f59e0b', '#10b981', '#ef4444', '#8b5cf6', '#64748b']
const OURS_COLOR = PALETTE[0]
const PEER_COLOR = '#94a3b8'

export interface Series {
  name: string
  values: number[]
  /** A second line of text under each point's value (line chart). */
  notes?: string[]
}

export interface ReferenceLine {
  value: number
  label: string
}

function esc (text: string): string {
  return text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;')
}

/** A round axis maximum and tick step (1, 2 or 5 × 10^k) with about `ticks` ticks. */
export function niceScale (max: number, ticks = 5): { max: number, step: number } {
  if (!(max > 0) || !Number.isFinite(max)) return { max: 1, step: 0.2 }
  const raw = max / ticks
  const magnitude = 10 ** Math.floor(Math.log10(raw))
  const step = [1, 2, 2.5, 5, 10].map((m) => m * magnitude).find((s) => s >= raw) ?? 10 * magnitude
  return { max: Math.ceil(max / step - 1e-9) * step, step }
}

/** An axis label: thousands as `k` on an axis that reaches 10,000 (`axisMax`), else in full. */
export function fmtTick (n: number, axisMax = n): string {
  if (axisMax >= 10_000) return n === 0 ? '0' : `${(n / 1000).toLocaleString('en-US', { maximumFractionDigits: 1 })}k`
  return n.toLocaleString('en-US', { maximumFractionDigits: 2 })
}

function text (x: number, y: number, content: string, attrs = ''): string {
  return `<text x="${x.toFixed(1)}" y="${y.toFixed(1)}" ${attrs}>${esc(content)}</text>`
}

function frame (width: number, height: number, title: string, subtitle: string | undefined, body: string[]): string {
  return [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" ${FONT} font-size="12" fill="#1e293b">`,
    `<rect width="${width}" height="${height}" fill="#ffffff"/>`,
    text(16, 24, title, 'font-size="15" font-weight="600"'),
    ...(subtitle === undefined ? [] : [text(16, 42, subtitle, 'font-size="11" fill="#475569"')]),
    ...body,
    '</svg>',
    ''
  ].join('\n')
}

function legend (x: number, y: number, names: string[], colors: string[]): string[] {
  const out: string[] = []
  let cx = x
  names.forEach((name, i) => {
    out.push(`<rect x="${cx}" y="${y - 9}" width="10" height="10" fill="${colors[i % colors.length]}"/>`, text(cx + 14, y, name, 'font-size="11"'))
    cx += 24 + name.length * 6.2
  })
  return out
}

/** Horizontal gridlines and y labels for a vertical chart; returns the y mapping. */
function yAxis (out: string[], left: number, right: number, top: number, bottom: number, max: number, unit: string): (v: number) => number {
  const scale = niceScale(max)
  const y = (v: number): number => bottom - (v / scale.max) * (bottom - top)
  for (let v = 0; v <= scale.max + 1e-9; v += scale.step) {
    out.push(`<line x1="${left}" x2="${right}" y1="${y(v).toFixed(1)}" y2="${y(v).toFixed(1)}" stroke="#e2e8f0"/>`)
    out.push(text(left - 6, y(v) + 4, fmtTick(v, scale.max), 'text-anchor="end" font-size="11" fill="#475569"'))
  }
  out.push(text(14, (top + bottom) / 2, unit, `transform="rotate(-90 14 ${((top + bottom) / 2).toFixed(1)})" text-anchor="middle" font-size="11" fill="#475569"`))
  return y
}

/** Dashed lines across the plot; their labels go in the key row above it (never over a bar). */
function referenceLines (out: string[], lines: ReferenceLine[], left: number, right: number, keyY: number, y: (v: number) => number): void {
  lines.forEach((ref, i) => {
    const ry = y(ref.value).toFixed(1)
    out.push(`<line x1="${left}" x2="${right}" y1="${ry}" y2="${ry}" stroke="#dc2626" stroke-dasharray="5 4" stroke-width="1.5"/>`)
    const ly = keyY - 14 * (lines.length - 1 - i)
    out.push(`<line x1="${right - 8 - ref.label.length * 6}" x2="${right - 14 - ref.label.length * 6 - 18}" y1="${ly - 4}" y2="${ly - 4}" stroke="#dc2626" stroke-dasharray="5 4" stroke-width="1.5"/>`)
    out.push(text(right, ly, ref.label, 'text-anchor="end" font-size="11" fill="#dc2626"'))
  })
}

interface Plot { width: number, height: number, left: number, right: number, top: number, bottom: number }

/** The plot rectangle of a vertical chart: room for the y labels left, title and key above. */
function plotArea (o: { width?: number, height?: number }, top: number, bottomMargin: number): Plot {
  const width = o.width ?? 720
  const height = o.height ?? 380
  return { width, height, left: 70, right: width - 24, top, bottom: height - bottomMargin }
}

export interface LineChartOptions {
  title: string
  subtitle?: string
  xLabel: string
  yLabel: string
  categories: string[]
  series: Series[]
  width?: number
  height?: number
}

/** Points at evenly spaced categories (e.g. pool sizes 1, 2, 4 … on a doubling axis). */
export function lineChart (o: LineChartOptions): string {
  const { width, height, left, right, top, bottom } = plotArea(o, 64, 56)
  const out: string[] = []
  const max = Math.max(...o.series.flatMap((s) => s.values.filter(Number.isFinite)))
  const y = yAxis(out, left, right, top, bottom, max * 1.12, o.yLabel)
  const step = (right - left) / Math.max(1, o.categories.length)
  const x = (i: number): number => left + step * (i + 0.5)
  o.categories.forEach((c, i) => out.push(text(x(i), bottom + 18, c, 'text-anchor="middle" font-size="11"')))
  out.push(text((left + right) / 2, bottom + 40, o.xLabel, 'text-anchor="middle" font-size="11" fill="#475569"'))
  o.series.forEach((s, si) => {
    const color = PALETTE[si % PALETTE.length]
    // A missing value (NaN) leaves a gap: no point, no label; the line joins the others.
    const pts = s.values.flatMap((v, i) => (Number.isFinite(v) ? [[x(i), y(v), i] as const] : []))
    out.push(`<polyline fill="none" stroke="${color}" stroke-width="2.5" points="${pts.map(([px, py]) => `${px.toFixed(1)},${py.toFixed(1)}`).join(' ')}"/>`)
    for (const [px, py, i] of pts) {
      out.push(`<circle cx="${px.toFixed(1)}" cy="${py.toFixed(1)}" r="4" fill="${color}"/>`)
      out.push(text(px, py - 18, Math.round(s.values[i]).toLocaleString('en-US'), 'text-anchor="middle" font-size="11" font-weight="600"'))
      const note = s.notes?.[i]
      if (note !== undefined) out.push(text(px, py - 6, note, 'text-anchor="middle" font-size="10" fill="#475569"'))
    }
  })
  if (o.series.length > 1) out.push(...legend(left, 58, o.series.map((s) => s.name), PALETTE))
  return frame(width, height, o.title, o.subtitle, out)
}

export interface BarChartOptions {
  title: string
  subtitle?: string
  yLabel: string
  categories: string[]
  series: Series[]
  references?: ReferenceLine[]
  width?: number
  height?: number
  /** Value label format; default rounded with thousands separators. */
  format?: (v: number) => string
}

/** Grouped vertical bars: one group per category, one bar per series. */
export function barChart (o: BarChartOptions): string {
  const refs = o.references ?? []
  // The reference lines' keys get a row of their own under the series' key.
  const { width, height, left, right, top, bottom } = plotArea(o, 72 + 14 * refs.length, 40)
  const out: string[] = []
  const values = o.series.flatMap((s) => s.values.filter(Number.isFinite))
  const y = yAxis(out, left, right, top, bottom, Math.max(...values, ...refs.map((r) => r.value)) * 1.1, o.yLabel)
  const group = (right - left) / Math.max(1, o.categories.length)
  const bar = Math.min(48, (group * 0.8) / Math.max(1, o.series.length))
  const format = o.format ?? ((v: number) => Math.round(v).toLocaleString('en-US'))
  o.categories.forEach((c, ci) => {
    const gx = left + group * ci + (group - bar * o.series.length) / 2
    o.series.forEach((s, si) => {
      const v = s.values[ci]
      if (!Number.isFinite(v)) return
      const bx = gx + bar * si
      out.push(`<rect x="${bx.toFixed(1)}" y="${y(v).toFixed(1)}" width="${(bar - 2).toFixed(1)}" height="${(bottom - y(v)).toFixed(1)}" fill="${PALETTE[si % PALETTE.length]}"/>`)
      out.push(text(bx + (bar - 2) / 2, y(v) - 4, format(v), 'text-anchor="middle" font-size="10"'))
    })
    out.push(text(left + group * (ci + 0.5), bottom + 18, c, 'text-anchor="middle" font-size="11" font-weight="600"'))
  })
  referenceLines(out, refs, left, right, 60 + 14 * refs.length, y)
  out.push(...legend(left, 60, o.series.map((s) => s.name), PALETTE))
  return frame(width, height, o.title, o.subtitle, out)
}

export interface RatioRow {
  label: string
  value: number
  /** Drawn in the highlight colour. */
  ours?: boolean
}

export interface RatioGroup {
  name: string
  rows: RatioRow[]
}

export interface RatioChartOptions {
  title: string
  subtitle?: string
  groups: RatioGroup[]
  /** Where the baseline sits (1 = 1.00×). */
  reference?: number
  referenceLabel?: string
  width?: number
}

/** Horizontal bars of ratios against a baseline, in labelled groups; long labels fit on the left. */
export function ratioChart (o: RatioChartOptions): string {
  const width = o.width ?? 760
  const labelWidth = 330
  const left = labelWidth + 16
  const right = width - 60
  const rowH = 22
  const top = 64
  const out: string[] = []
  const reference = o.reference ?? 1
  const max = Math.max(reference, ...o.groups.flatMap((g) => g.rows.map((r) => r.value)).filter(Number.isFinite)) * 1.08
  const x = (v: number): number => left + (v / max) * (right - left)
  let cy = top
  for (const g of o.groups) {
    out.push(text(16, cy + 14, g.name, 'font-size="12" font-weight="600"'))
    cy += rowH
    for (const r of g.rows) {
      const value = Number.isFinite(r.value) ? r.value : 0
      out.push(text(labelWidth, cy + 14, r.label, 'text-anchor="end" font-size="11"'))
      out.push(`<rect x="${left}" y="${cy + 3}" width="${Math.max(0, x(value) - left).toFixed(1)}" height="${rowH - 7}" fill="${r.ours === true ? OURS_COLOR : PEER_COLOR}"/>`)
      out.push(text(x(value) + 4, cy + 14, Number.isFinite(r.value) ? `${r.value.toFixed(2)}×` : 'n/a', 'font-size="11" font-weight="600"'))
      cy += rowH
    }
    cy += 8
  }
  const rx = x(reference).toFixed(1)
  out.push(`<line x1="${rx}" x2="${rx}" y1="${top}" y2="${cy - 4}" stroke="#dc2626" stroke-dasharray="5 4" stroke-width="1.5"/>`)
  out.push(text(x(reference), cy + 10, o.referenceLabel ?? `${reference.toFixed(2)}×`, 'text-anchor="middle" font-size="11" fill="#dc2626"'))
  return frame(width, cy + 24, o.title, o.subtitle, out)
}

/** Writes one chart into `dir` (created if needed); returns the file's path. */
export function writeChart (dir: string, name: string, svg: string): string {
  fs.mkdirSync(dir, { recursive: true })
  const file = path.join(dir, name)
  fs.writeFileSync(file, svg)
  return file
}
