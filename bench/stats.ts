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

/** An interval for the median of a population, from a sample, and how often such intervals cover it. */
export interface MedianInterval { low: number, high: number, coverage: number }

/**
 * The distribution-free confidence interval for the median (order statistics, the sign test's
 * binomial): the k-th smallest and k-th largest values, k as large as keeps the coverage at or
 * above `confidence`. Nothing is assumed about the shape of the rounds' spread, which on a shared
 * machine has long tails. With too few values for that coverage (5 or fewer at 95 %) it is the
 * whole range, and `coverage` says what that range achieves.
 */
export function medianInterval (values: readonly number[], confidence = 0.95): MedianInterval {
  const n = values.length
  if (n === 0) return { low: NaN, high: NaN, coverage: 0 }
  const sorted = [...values].sort((a, b) => a - b)
  // tail(j) = P(Binomial(n, 1/2) <= j): the chance that the median lies below the (j+1)-th value.
  let choose = 1
  let below = 0
  let k = 1
  let coverage = 1 - 2 * 0.5 ** n
  for (let j = 0; j < (n - 1) >> 1; j++) {
    below += choose * 0.5 ** n
    choose = choose * (n - j) / (j + 1)
    const next = 1 - 2 * (below + choose * 0.5 ** n)
    if (next < confidence) break
    k = j + 2
    coverage = next
  }
  return { low: sorted[k - 1], high: sorted[n - k], coverage }
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
