/**
 * How long checkouts hold their connection, and what that says about a queued checkout's wait:
 * the estimate behind `failFast` (refuse at once a checkout the queue ahead cannot serve in time).
 */

/** Checkouts measured before the estimate is trusted: until then failFast refuses nothing. */
const SAMPLES_BEFORE_TRUSTED = 20
/** The mean follows the last ~10 hold times: a change of load shows within ~20 checkouts. */
const WEIGHT = 10
/** Deviations of padding on an estimated wait (TCP pads its retransmit timer by four). */
const PADDING_DEVIATIONS = 4

/** Exponentially weighted mean and mean deviation of hold times. */
export class HoldTime {
  #mean = 0
  #deviation = 0
  #samples = 0

  add (ms: number): void {
    this.#samples++
    const weight = Math.min(this.#samples, WEIGHT)
    const error = ms - this.#mean
    this.#mean += error / weight
    // The first sample has nothing to deviate from.
    if (this.#samples > 1) this.#deviation += (Math.abs(error) - this.#deviation) / (weight - 1)
  }

  mean (): number | undefined {
    return this.#samples < SAMPLES_BEFORE_TRUSTED ? undefined : this.#mean
  }

  deviation (): number {
    return this.#deviation
  }

  /**
   * How long a checkout queued behind `ahead` others would wait with `slots` connections turning
   * over: (ahead + 1) returns are needed, and they come at slots / mean-hold-time per ms. The
   * estimate is padded by four deviations of the time those returns take (slots connections
   * returning side by side: deviation × √(ahead + 1) / slots), so a checkout admitted close to
   * its deadline is not then answered by a late timeout. Undefined until enough checkouts were
   * measured to trust the mean.
   */
  expectedWait (ahead: number, slots: number): number | undefined {
    const mean = this.mean()
    if (mean === undefined) return undefined
    const returns = ahead + 1
    return returns * mean / slots + PADDING_DEVIATIONS * this.#deviation * Math.sqrt(returns) / slots
  }
}
