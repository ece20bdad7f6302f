/**
 * Open-loop load for the overload section: requests arrive at a fixed rate whether or not earlier
 * ones were answered, and each client gives up after `timeoutMs`, as callers and load balancers do.
 *
 * autocannon's `overallRate` gives each connection a budget of requests per second, refilled by a
 * one-second timer per connection; with one request per connection per second and as many
 * connections as the rate, a connection never waits for an answer to send its next request
 * (an answer comes, or the client gives up, within `timeoutMs` ≤ 1 s). All of one instance's
 * timers fire together, so the arrivals are spread over the second by starting `phases`
 * instances at even offsets (bursts of rate/phases every 1000/phases ms instead of one burst).
 * 50 phases: at 4× capacity a burst is ~18 requests every 20 ms. With 20, bursts of ~46 made the
 * last requests of each burst wait ~10 ms for the server to parse the ones before them — a
 * property of the load generator, not of the server's answer, which the 503 timing must not mix in.
 *
 * Goodput is counted over the steady state only: answers that came between the end of the first
 * second (the queue filling from empty) and the last arrival. Answers after the last arrival are
 * the queue draining, and how much a queue drains depends on how long it was: counted in, a
 * strict FIFO queue that holds 0.5 s of work would get 0.5 s of service more than a run of
 * arrivals lasts, a shorter queue less, and a 6 s run would rank pools by the length of their
 * queue as much as by what they served (measured: ~8 % for FIFO and knex, which keep 0.5 s).
 */
import { FAST_REFUSAL_MS } from './goals'
import autocannon from 'autocannon'
import { quantile } from '../stats'

export interface OpenLoopOptions {
  url: string
  path: string
  /** Requests per second offered, in total. */
  rate: number
  /** Seconds of arrivals (whole seconds). */
  duration: number
  /** A client gives up on a request after this many milliseconds (at most 1000: see above). */
  timeoutMs: number
  /** Staggered autocannon instances (default 50). */
  phases?: number
}

export interface OpenLoopResult {
  /** Requests sent per second. */
  sentPerSec: number
  /**
   * 2xx answered within the client's timeout, per second, in the steady state (answers between
   * the end of the first second and the last arrival): the goodput.
   */
  goodput: number
  /** The same over the whole run, the queue's final drain included, per second of arrivals. */
  goodputWithDrain: number
  /** 2xx answered within the timeout, in all. */
  ok: number
  /** 503 answers, and how long the slowest took. */
  refused: number
  refusedMaxMs: number
  /** 503 answers that took 10 ms or more. */
  refusedSlow: number
  /** Other non-2xx answers (500 from a peer's acquire timeout, for instance). */
  otherErrors: number
  /**
   * Requests sent that got no answer: the client gave up after `timeoutMs` (or, rarely, the socket
   * failed). Counted as sent − answered: autocannon's own timeout count also fires on a connection
   * idle between two sends, which is no request lost.
   */
  unanswered: number
  /** Latency of the 2xx answers, ms. */
  p50: number
  p99: number
}

export { FAST_REFUSAL_MS }

export async function openLoop (opts: OpenLoopOptions): Promise<OpenLoopResult> {
  if (opts.timeoutMs > 1000) throw new Error('openLoop: timeoutMs must be ≤ 1000 (one request per connection per second)')
  if (opts.duration < 2) throw new Error('openLoop: duration must be ≥ 2 s (the first second is not counted in the goodput)')
  const phases = Math.max(1, Math.min(opts.phases ?? 50, Math.floor(opts.rate)))
  const seconds = Math.max(1, Math.round(opts.duration))
  let latencies = new Float64Array(1 << 14)
  let ok = 0
  let refused = 0
  let refusedSlow = 0
  let refusedMaxMs = 0
  let otherErrors = 0
  let sent = 0
  let answered = 0
  let okSteady = 0
  const start = performance.now()
  const steadyFrom = start + 1000
  const steadyUntil = start + seconds * 1000
  const onResponse = (_client: unknown, status: number, _bytes: number, ms: number): void => {
    answered++
    if (status >= 200 && status < 300) {
      if (ms > opts.timeoutMs) return // answered after the client would have given up
      const now = performance.now()
      if (now >= steadyFrom && now <= steadyUntil) okSteady++
      if (ok === latencies.length) {
        const bigger = new Float64Array(latencies.length * 2)
        bigger.set(latencies)
        latencies = bigger
      }
      latencies[ok++] = ms
    } else if (status === 503) {
      refused++
      if (ms >= FAST_REFUSAL_MS) refusedSlow++
      if (ms > refusedMaxMs) refusedMaxMs = ms
    } else {
      otherErrors++
    }
  }
  const runs: Promise<unknown>[] = []
  for (let k = 0; k < phases; k++) {
    const rate = Math.floor(opts.rate / phases) + (k < opts.rate % phases ? 1 : 0)
    runs.push(new Promise((resolve, reject) => {
      setTimeout(() => {
        const instance = autocannon({
          url: opts.url,
          connections: rate,
          overallRate: rate,
          // `amount` (not `duration`): each connection sends exactly `duration` requests, one per
          // second, and the instance ends once the last of them is answered or given up on; with
          // `duration` autocannon sends one more batch just before it stops and cuts it short.
          amount: rate * seconds,
          timeout: opts.timeoutMs / 1000,
          // Called once per request sent (autocannon's own `sent` counts an estimate at start).
          requests: [{ method: 'GET', path: opts.path, setupRequest: (req) => { sent++; return req } }]
        })
        instance.on('response', onResponse)
        instance.then(resolve, reject)
      }, Math.round(k * 1000 / phases))
    }))
  }
  await Promise.all(runs)
  return {
    sentPerSec: sent / seconds,
    goodput: okSteady / (seconds - 1),
    goodputWithDrain: ok / seconds,
    ok,
    refused,
    refusedMaxMs,
    refusedSlow,
    otherErrors,
    unanswered: sent - answered,
    p50: quantile(latencies, ok, 0.5),
    p99: quantile(latencies, ok, 0.99)
  }
}
