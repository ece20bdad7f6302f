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

/** medianInterval's limit: 0.5 ** n underflows past about a thousand values (the benchmarks have tens). */
const MEDIAN_INTERVAL_MAX = 1000

/** An interval for the median of a population, from a sample, and how often such intervals cover it. */
export interface MedianInterval { low: number, high: number, coverage: number }

/**
 * The distribution-free confidence interval for the median (order statistics, the sign test's
 * binomial): the k-th smallest and k-th largest values, k as large as keeps the coverage at or
 * above `confidence`. Nothing is assumed about the shape of the rounds' spread, which on a shared
 * machine has long tails; the values are taken as independent draws of one distribution. With
 * few values (8 or fewer at 95 %) it is the whole range; below 6 that range covers less than
 * asked, and `coverage` says what it achieves.
 */
export function medianInterval (values: readonly number[], confidence = 0.95): MedianInterval {
  const n = values.length
  if (n === 0) return { low: NaN, high: NaN, coverage: 0 }
  if (n > MEDIAN_INTERVAL_MAX) throw new RangeError(`medianInterval: at most ${MEDIAN_INTERVAL_MAX} values, got ${n}`)
  const sorted = [...values].sort((a, b) => a - b)
  const p0 = 0.5 ** n
  // [x(k), x(n-k+1)] misses the median with probability 2 * P(Binomial(n, 1/2) <= k - 1).
  let pmf = p0 // P(B = k - 1), for the k tried next
  let cdf = 0 // P(B <= k - 2)
  let k = 1
  let coverage = 1 - 2 * p0
  while (k < (n + 1) >> 1) {
    cdf += pmf // now P(B <= k - 1)
    pmf = pmf * (n - k + 1) / k // now P(B = k)
    const wider = 1 - 2 * (cdf + pmf) // the coverage of [x(k+1), x(n-k)]
    if (wider < confidence) break
    k++
    coverage = wider
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
