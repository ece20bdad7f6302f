// The few parts of autocannon's programmatic API the benchmark uses (the package ships no types).
declare module 'autocannon' {
  import type { EventEmitter } from 'node:events'

  interface RequestParams {
    method?: string
    path?: string
    headers?: Record<string, string>
    body?: string
  }

  interface Request extends RequestParams {
    setupRequest?: (req: RequestParams, context: Record<string, unknown>) => RequestParams
  }

  interface Options {
    url: string
    connections?: number
    duration?: number
    /** Requests in total (overrides duration). */
    amount?: number
    pipelining?: number
    /** Seconds. */
    timeout?: number
    /** Requests per second over all connections (each connection gets its share per second). */
    overallRate?: number
    requests?: Request[]
  }

  interface Histogram {
    average: number
    mean: number
    stddev: number
    min: number
    max: number
    p50: number
    p90: number
    p99: number
  }

  interface Result {
    duration: number
    errors: number
    timeouts: number
    non2xx: number
    latency: Histogram
    requests: Histogram & { total: number, sent: number }
  }

  interface Instance extends EventEmitter, PromiseLike<Result> {
    stop: () => void
  }

  function autocannon (opts: Options): Instance
  export = autocannon
}
