/**
 * What the dbPool/dbSession fields cost a logged request, apart from everything else: Fastify's
 * two lines per request ("incoming request", "request completed") on a per-request pino child to
 * /dev/null through sonic-boom, as `logger: true` writes them, with and without the plugin's
 * setBindings of the two fields before the second line (their shape as `logPoolStats: true` logs
 * them). `npm run bench:log-fields`; µs per request, median of 5.
 */
import pino from 'pino'
import { median } from '../stats'

const ROUNDS = 5
const REQUESTS = 100_000

const logger = pino({ level: 'info' }, pino.destination({ dest: '/dev/null', sync: false }))
const fields = (): Record<string, unknown> => ({
  dbPool: { size: 10, checkedIn: 3, checkedOut: 7, overflow: -3, waiting: 12 },
  dbSession: { queries: 1, waitMs: 1.3, heldMs: 2.1, commits: 0, rollbacks: 0 }
})
const req = { method: 'GET', url: '/items/1', host: '127.0.0.1:3000', remoteAddress: '127.0.0.1', remotePort: 50000 }
const res = { statusCode: 200 }

async function usPerRequest (withFields: boolean): Promise<number> {
  const started = process.hrtime.bigint()
  for (let i = 0; i < REQUESTS; i++) {
    const log = logger.child({ reqId: `req-${i}` })
    log.info({ req }, 'incoming request')
    if (withFields) log.setBindings(fields())
    log.info({ res, responseTime: 1.234 }, 'request completed')
    // Let sonic-boom write, as the event loop of a server would between requests.
    if (i % 64 === 0) await new Promise(setImmediate)
  }
  return Number(process.hrtime.bigint() - started) / REQUESTS / 1000
}

async function main (): Promise<void> {
  for (let i = 0; i < 3; i++) { await usPerRequest(false); await usPerRequest(true) } // warm-up
  const without: number[] = []
  const withFields: number[] = []
  for (let i = 0; i < ROUNDS; i++) {
    without.push(await usPerRequest(false))
    withFields.push(await usPerRequest(true))
  }
  console.log(`${process.version}: Fastify's two lines ${median(without).toFixed(2)} µs per request without the dbPool/dbSession fields, ${median(withFields).toFixed(2)} µs with them`)
}

main().catch((err: unknown) => { console.error(err); process.exitCode = 1 })
