/** Small statistics and formatting helpers shared by the sections. */

export function median (values: readonly number[]): number {
  if (values.length === 0) return NaN
  const sorted = [...values].sort((a, b) => a - b)
  const mid = sorted.length >> 1
  return sorted.length % 2 === 1 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2
}

/** The q-quantile (0..1) of the first `count` values, by nearest rank. */
export function quantile (values: Float64Array, count: number, q: number): number {
  if (count === 0) return NaN
  const sorted = values.slice(0, count).sort()
  return sorted[Math.min(count - 1, Math.max(0, Math.ceil(q * count) - 1))]
}

/** Median of the per-round ratios a[i] / b[i]: drift between rounds cancels out. */
export function medianRatio (a: readonly number[], b: readonly number[]): number {
  const ratios: number[] = []
  for (let i = 0; i < Math.min(a.length, b.length); i++) ratios.push(a[i] / b[i])
  return median(ratios)
}

export function fmtInt (n: number): string {
  return Number.isFinite(n) ? Math.round(n).toLocaleString('en-US') : 'n/a'
}

export function fmtNum (n: number, digits = 2): string {
  return Number.isFinite(n) ? n.toFixed(digits) : 'n/a'
}

/** A share (0..1) as a percentage, with the digits its size needs: 0.037 %, 4.2 %, 100 %. */
export function fmtPct (share: number): string {
  const pct = 100 * share
  return `${pct >= 10 ? pct.toFixed(0) : pct >= 1 ? pct.toFixed(1) : pct.toPrecision(2)} %`
}

export function fmtRatio (n: number): string {
  return Number.isFinite(n) ? `${n.toFixed(2)}×` : 'n/a'
}

/** A markdown table; numeric-looking columns are right-aligned. */
export function table (headers: string[], rows: string[][], rightAligned: boolean[] = headers.map((_, i) => i > 0)): string {
  const line = (cells: string[]): string => `| ${cells.join(' | ')} |`
  const sep = headers.map((_, i) => (rightAligned[i] ? '---:' : '---'))
  return [line(headers), line(sep), ...rows.map(line)].join('\n')
}
