/**
 * One autocannon run against a server: random item ids, our own latency record (autocannon's
 * histogram rounds to whole milliseconds), req/s over the run and p50/p99 in ms.
 */
import autocannon from 'autocannon'
import { ITEM_COUNT } from '../setup-db'
import { quantile } from '../stats'

export interface LoadOptions {
  url: string
  method: 'GET' | 'POST'
  connections: number
  /** Seconds. */
  duration: number
  /** A fixed path; else a random `/items/:id`. */
  path?: string
}

export interface LoadResult {
  reqPerSec: number
  p50: number
  p99: number
  /** Connection errors, timeouts and non-2xx responses. */
  errors: number
  requests: number
}

export async function load (opts: LoadOptions): Promise<LoadResult> {
  let latencies = new Float64Array(1 << 16)
  let count = 0
  const instance = autocannon({
    url: opts.url,
    connections: opts.connections,
    duration: opts.duration,
    timeout: 10,
    requests: [{
      method: opts.method,
      setupRequest (req) {
        req.path = opts.path ?? `/items/${1 + Math.floor(Math.random() * ITEM_COUNT)}`
        return req
      }
    }]
  })
  instance.on('response', (_client: unknown, status: number, _bytes: number, ms: number) => {
    if (status < 200 || status >= 300) return
    if (count === latencies.length) {
      const bigger = new Float64Array(latencies.length * 2)
      bigger.set(latencies)
      latencies = bigger
    }
    latencies[count++] = ms
  })
  const result = await instance
  return {
    reqPerSec: count / result.duration,
    p50: quantile(latencies, count, 0.5),
    p99: quantile(latencies, count, 0.99),
    errors: result.errors + result.timeouts + result.non2xx,
    requests: count
  }
}
