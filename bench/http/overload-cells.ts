/**
 * The overload section's runs grouped over its rounds: one cell per (rate, variant) with its median
 * round, and the comparison with the best peer. Kept apart from the runner so it can be tested
 * without the load generator.
 */
import { median, medianRatio } from '../stats'
import type { AppSpec } from './apps'
import type { OpenLoopResult } from './open-loop'
import type { ProbeReading } from './servers'

export interface OverloadVariant {
  label: string
  /** Short name for the charts. */
  short: string
  spec: AppSpec
  ours: boolean
}

export interface OverloadRun {
  variant: OverloadVariant
  factor: number
  rate: number
  load: OpenLoopResult
  probe: ProbeReading
}

/** One variant at one rate, over the rounds. */
export interface OverloadCell {
  variant: OverloadVariant
  factor: number
  rate: number
  /** One run per round, in round order. */
  rounds: OverloadRun[]
  /** The round with the median goodput (the lower middle one for an even count): its row is shown. */
  median: OverloadRun
}

export const goodputs = (c: OverloadCell): number[] => c.rounds.map((r) => r.load.goodput)

/** The peer with the highest median goodput. */
export function bestPeer (cells: OverloadCell[]): OverloadCell | undefined {
  return cells.filter((c) => !c.variant.ours).reduce<OverloadCell | undefined>((a, b) => (a === undefined || median(goodputs(b)) > median(goodputs(a)) ? b : a), undefined)
}

/** Median over the rounds of this cell's goodput ÷ the best peer's goodput in the same round. */
export const vsBest = (c: OverloadCell, best: OverloadCell): number => medianRatio(goodputs(c), goodputs(best))

/** Groups the runs by (rate, variant), in that order, each with its median round; a pair without runs has no cell. */
export function cellsOf (runs: readonly OverloadRun[], all: readonly OverloadVariant[], factors: readonly number[]): OverloadCell[] {
  return factors.flatMap((factor) => all.flatMap((variant) => {
    const rounds = runs.filter((r) => r.variant === variant && r.factor === factor)
    if (rounds.length === 0) return []
    const byGoodput = [...rounds].sort((a, b) => a.load.goodput - b.load.goodput)
    return [{ variant, factor, rate: rounds[0].rate, rounds, median: byGoodput[(byGoodput.length - 1) >> 1] }]
  }))
}
