/**
 * Randomized: ≥ 1,000 unit-of-work requests over real sockets, each with a random plan — where it
 * writes, where it throws (handler or an onSend hook), whether it hijacks, whether the client gives
 * up and when, whether the handler times out. Invariants checked at the end against the server:
 * - every 2xx the client received that wrote is committed;
 * - nothing from a request that failed (thrown, onSend error, hijack refused, handler timeout);
 * - a committed row whose client never saw the 2xx belongs to a request whose handler had finished
 *   before the client left (the commit-then-answer window), never one that was dead first;
 * - no checked-out connection, no open transaction, no running statement of the app's user.
 * The seed is printed; FDBS_SEED=<n> replays a run.
 */
import http from 'node:http'
import t from 'tap'
import Fastify from 'fastify'
import sensible from '@fastify/sensible'
import type mysql from 'mysql2/promise'
import dbSession from '../../lib'
import { databaseUrl } from '../helpers/db'
import { createDbUser, dropDbUser, recordResult, userThreads, userTransactions, waitFor } from '../helpers/http-load'
import { admin, sleep } from '../helpers/pool'

const REQUESTS = Number(process.env.FDBS_RANDOM_REQUESTS ?? 1000)
const CONCURRENCY = 24
const USER = 'fdbs_rel_random'
const PASSWORD = 'Random-pw-41d9'
const TABLE = 'rel_random_end'
const SEED = Number(process.env.FDBS_SEED ?? Math.floor(Math.random() * 2 ** 31))

t.setTimeout(110_000)

function rng (seed: number): () => number {
  let a = seed >>> 0
  return () => {
    a = (a + 0x6D2B79F5) >>> 0
    let x = Math.imul(a ^ (a >>> 15), 1 | a)
    x = (x + Math.imul(x ^ (x >>> 7), 61 | x)) ^ x
    return ((x ^ (x >>> 14)) >>> 0) / 4294967296
  }
}

type Fail = 'none' | 'before' | 'after' | 'onSend' | 'hijack'
interface Plan { id: number, delayBefore: number, sleepMs: number, delayAfter: number, fail: Fail, abortAt: number | null, timeout: boolean }

const FAILS: Fail[] = ['none', 'none', 'none', 'none', 'before', 'after', 'onSend', 'hijack']

t.test(`${REQUESTS} randomized unit-of-work requests: committed rows match what was answered`, async (t) => {
  t.comment(`seed ${SEED}`)
  const random = rng(SEED)
  const a = await admin(t)
  const url = await createDbUser(a, await databaseUrl(), USER, PASSWORD)
  await a.query(`DROP TABLE IF EXISTS ${TABLE}`)
  await a.query(`CREATE TABLE ${TABLE} (id INT PRIMARY KEY) ENGINE=InnoDB`)
  t.teardown(async () => {
    await dropDbUser(a, USER)
    await a.query(`DROP TABLE IF EXISTS ${TABLE}`)
  })

  const handlerDone = new Map<number, number>()
  // When the server learnt that the client had gone (its socket closed): the client's own abort
  // time is earlier, and the server cannot know of it before the FIN arrives.
  const socketClosed = new Map<number, number>()
  const app = Fastify({ logger: false, forceCloseConnections: true })
  await app.register(sensible)
  await app.register(dbSession, { connection: url, poolSize: 6, maxOverflow: 4, poolTimeout: 5000, logPoolStats: false })
  app.addHook('onSend', async (request) => {
    if (request.headers['x-fail'] === 'onSend') throw new Error('onSend failed on purpose')
  })
  const handler = async (request: import('fastify').FastifyRequest, reply: import('fastify').FastifyReply): Promise<unknown> => {
    const plan = JSON.parse(String(request.headers['x-plan'])) as Plan
    request.raw.socket.once('close', () => socketClosed.set(plan.id, performance.now()))
    await sleep(plan.delayBefore)
    if (plan.fail === 'before') throw new Error('before writing')
    await request.db.query(`INSERT INTO ${TABLE} (id) VALUES (?)`, [plan.id])
    if (plan.sleepMs > 0) await request.db.query('SELECT SLEEP(?)', [plan.sleepMs / 1000])
    await sleep(plan.delayAfter)
    if (plan.fail === 'after') throw new Error('after writing')
    if (plan.fail === 'hijack') {
      reply.hijack() // refused: uncommitted work
      reply.raw.end('saved')
      return
    }
    handlerDone.set(plan.id, performance.now())
    return { id: plan.id }
  }
  app.post('/w', { config: { db: { transaction: true } } }, handler)
  // GET: Fastify's handlerTimeout timer is cleared by the request's 'close', which Node emits as
  // soon as a request body has been read, so over a real socket it only fires for body-less requests.
  app.get('/w-timeout', { config: { db: { transaction: true } }, handlerTimeout: 25 }, handler)
  await app.listen({ port: 0, host: '127.0.0.1' })
  t.teardown(() => app.close())
  const port = (app.server.address() as import('node:net').AddressInfo).port

  const plans: Plan[] = Array.from({ length: REQUESTS }, (_v, id) => ({
    id,
    delayBefore: Math.floor(random() * 25),
    sleepMs: random() < 0.3 ? Math.floor(random() * 30) : 0,
    delayAfter: Math.floor(random() * 15),
    fail: FAILS[Math.floor(random() * FAILS.length)],
    abortAt: random() < 0.33 ? Math.floor(random() * 60) : null,
    timeout: random() < 0.08
  }))
  const got2xx = new Set<number>()
  const abortedAt = new Map<number, number>()
  const statuses: Record<string, number> = {}

  const send = (plan: Plan): Promise<void> => new Promise((resolve) => {
    const req = http.request({ host: '127.0.0.1', port, path: plan.timeout ? '/w-timeout' : '/w', method: plan.timeout ? 'GET' : 'POST', agent: false, headers: { 'content-type': 'application/json', 'x-plan': JSON.stringify(plan), 'x-fail': plan.fail } }, (res) => {
      res.resume()
      res.on('end', () => {
        const s = String(res.statusCode)
        statuses[s] = (statuses[s] ?? 0) + 1
        if (res.statusCode !== undefined && res.statusCode < 300) got2xx.add(plan.id)
        resolve()
      })
      res.on('error', () => resolve())
    })
    req.on('error', () => {
      statuses.aborted = (statuses.aborted ?? 0) + 1
      resolve()
    })
    req.end(plan.timeout ? undefined : '{}')
    if (plan.abortAt !== null) {
      setTimeout(() => {
        if (!got2xx.has(plan.id)) {
          abortedAt.set(plan.id, performance.now())
          req.destroy()
        }
      }, plan.abortAt)
    }
  })

  let next = 0
  await Promise.all(Array.from({ length: CONCURRENCY }, async () => {
    while (next < plans.length) await send(plans[next++])
  }))

  const pool = app.db.pool
  t.ok(await waitFor(async () => pool.stats().checkedOut === 0 && await userTransactions(a, USER) === 0 &&
    (await userThreads(a, USER)).every((th) => th.command === 'Sleep'), 10_000), 'pool and server settle')
  const [rows] = await a.query<mysql.RowDataPacket[]>(`SELECT id FROM ${TABLE}`)
  const committed = new Set(rows.map((r) => Number(r.id)))

  const missing = [...got2xx].filter((id) => !committed.has(id))
  t.same(missing, [], 'every 2xx received is committed')
  const fromFailures = [...committed].filter((id) => plans[id].fail !== 'none' || (plans[id].timeout && !got2xx.has(id) && !handlerDone.has(id)))
  t.same(fromFailures, [], 'nothing committed from a failed request')
  const deadFirst = [...committed].filter((id) => !got2xx.has(id) && !((handlerDone.get(id) ?? Infinity) <= (socketClosed.get(id) ?? -Infinity)))
  t.same(deadFirst.map((id) => ({ plan: plans[id], handlerDone: handlerDone.get(id), socketClosed: socketClosed.get(id), abortedAt: abortedAt.get(id) })), [],
    'a committed row without its 2xx only where the handler had finished before the server saw the client leave')
  t.equal(pool.stats().checkedOut, 0, 'no connection checked out')
  t.equal(pool.stats().waiting, 0, 'nobody waiting')
  t.equal(await userTransactions(a, USER), 0, 'no open transaction')
  t.same((await userThreads(a, USER)).filter((th) => th.command !== 'Sleep'), [], 'no statement running')
  const figures = { seed: SEED, requests: REQUESTS, statuses, committed: committed.size, answered2xx: got2xx.size, committedWithoutAnswer: committed.size - got2xx.size, aborted: abortedAt.size, pool: pool.stats() }
  t.comment(JSON.stringify(figures))
  recordResult('request-end-random', figures)
})
