/**
 * Every way a request ends, over real sockets against the real server: no session after the end,
 * no commit behind an error answer, whatever the hook order. One test per situation of issue #10,
 * then the hook-order matrix.
 */
import http from 'node:http'
import net from 'node:net'
import t from 'tap'
import type { FastifyInstance, FastifyRequest } from 'fastify'
import { SessionClosedError } from '../../lib'
import { admin, sleep, until } from '../helpers/pool'
import { abortedRequest, assertSettled, buildApp, createTable, deferred, listen, request, tableNames } from './_helpers'

const TABLE = 'fdbs_request_end'

/**
 * Resolves once the request's client connection is closed: the handler goes on after the client
 * left, whatever the machine's timing (a fixed sleep could end before a busy server saw the close).
 */
function clientGone (request: FastifyRequest): Promise<void> {
  const socket = request.raw.socket
  if (socket.destroyed) return Promise.resolve()
  return new Promise((resolve) => socket.once('close', () => resolve()))
}

/** Sends a request and gives up (destroys the socket) after `ms`. */
function giveUpAfter (url: string, ms: number, init: { method?: string, body?: string } = {}): Promise<void> {
  return new Promise((resolve) => {
    const req = http.request(url, { method: init.method ?? 'GET', agent: false, headers: init.body === undefined ? {} : { 'content-type': 'application/json' } })
    req.on('error', () => {})
    req.on('close', () => resolve())
    req.end(init.body)
    setTimeout(() => req.destroy(), ms)
  })
}

t.test('1. the client leaves before the handler\'s first statement: no session, nothing committed', async (t) => {
  const db = await admin(t)
  await createTable(t, db, TABLE)
  const outcome: string[] = []
  const { app } = await buildApp(t, {
    setup (app) {
      app.post('/late', { config: { db: { transaction: true } } }, async (request) => {
        await clientGone(request)
        try {
          await request.db.query(`INSERT INTO ${TABLE} (name) VALUES (?)`, ['late'])
          outcome.push('inserted')
        } catch (err) {
          outcome.push(err instanceof SessionClosedError ? 'refused' : String(err))
          throw err
        }
        return { ok: true }
      })
    }
  })
  const url = await listen(app)
  const before = app.db.stats().checkouts
  await giveUpAfter(`${url}/late`, 100, { method: 'POST', body: '{}' })
  await until(() => outcome.length === 1, 3000, 'the handler to run')
  t.same(outcome, ['refused'], 'request.db throws SessionClosedError')
  t.equal(app.db.stats().checkouts, before, 'no connection was taken')
  t.same(await tableNames(db, TABLE), [], 'nothing written')
  await assertSettled(t, app, db)
})

t.test('2. request.db first used after reply.send(): throws, takes no connection; the pool stays usable', async (t) => {
  const db = await admin(t)
  const late: unknown[] = []
  const { app } = await buildApp(t, {
    plugin: { poolSize: 2, maxOverflow: 0, poolTimeout: 500 },
    setup (app) {
      app.get('/floating', async (request, reply) => {
        setTimeout(() => {
          try {
            void request.db.query('SELECT 1').catch((err: unknown) => late.push(err))
          } catch (err) {
            late.push(err)
          }
        }, 50)
        return reply.send({ ok: true })
      })
      app.get('/q', async (request) => {
        await request.db.query('SELECT 1')
        return { ok: true }
      })
    }
  })
  const url = await listen(app)
  for (let i = 0; i < 3; i++) t.equal((await request(`${url}/floating`)).status, 200)
  await until(() => late.length === 3, 2000, 'the floating tasks')
  t.ok(late.every((e) => e instanceof SessionClosedError), 'every late use threw SessionClosedError')
  t.equal(app.db.stats().checkedOut, 0)
  t.equal((await request(`${url}/q`)).status, 200, 'the next request is served (no exhaustion)')
  await assertSettled(t, app, db)
})

t.test('3. an onRequest hook registered before the plugin uses request.db, then a hijacked SSE closed by the client', async (t) => {
  const db = await admin(t)
  const started = deferred()
  const { app } = await buildApp(t, {
    plugin: { poolSize: 1, maxOverflow: 0, poolTimeout: 500 },
    before (app) {
      app.addHook('onRequest', async (request) => {
        if (request.url === '/sse') await request.db.query('SELECT 1')
      })
    },
    setup (app) {
      app.get('/sse', (_request, reply) => {
        reply.hijack()
        reply.raw.writeHead(200, { 'content-type': 'text/event-stream' })
        reply.raw.write('data: hello\n\n')
        started.resolve()
      })
      app.get('/q', async (request) => {
        await request.db.query('SELECT 1')
        return { ok: true }
      })
    }
  })
  const url = await listen(app)
  await abortedRequest(`${url}/sse`, started.promise)
  await until(() => app.db.stats().checkedOut === 0, 2000, 'the connection to come back')
  t.equal(app.db.stats().checkedOut, 0, 'returned when the client closed the stream')
  t.equal((await request(`${url}/q`)).status, 200, 'a pool of 1 still serves')
  await assertSettled(t, app, db)
})

t.test('4. pipelined requests whose connection closes while they are queued: their work is never committed', async (t) => {
  const db = await admin(t)
  await createTable(t, db, TABLE)
  const ran: string[] = []
  const { app } = await buildApp(t, {
    setup (app) {
      app.post('/w/:n', { config: { db: { transaction: true } } }, async (request) => {
        const n = (request.params as { n: string }).n
        await clientGone(request) // all four still running when the client leaves
        try {
          await request.db.query(`INSERT INTO ${TABLE} (name) VALUES (?)`, [`w${n}`])
          ran.push(`${n}:inserted`)
        } catch (err) {
          ran.push(`${n}:${err instanceof SessionClosedError ? 'refused' : 'other'}`)
          throw err
        }
        return { n }
      })
    }
  })
  const url = new URL(await listen(app))
  const socket = net.connect(Number(url.port), url.hostname)
  await new Promise<void>((resolve) => socket.once('connect', () => resolve()))
  socket.on('error', () => {})
  const body = '{}'
  let raw = ''
  for (let n = 1; n <= 4; n++) {
    raw += `POST /w/${n} HTTP/1.1\r\nHost: x\r\ncontent-type: application/json\r\ncontent-length: ${body.length}\r\n\r\n${body}`
  }
  socket.write(raw)
  await sleep(100)
  socket.destroy() // the client goes away while request 1 runs and 2–4 are queued
  await until(() => ran.length === 4, 3000, 'all four handlers to finish')
  t.ok(ran.every((r) => r.endsWith(':refused')), `no handler could write (${ran.join(', ')})`)
  t.same(await tableNames(db, TABLE), [], 'no row committed')
  await assertSettled(t, app, db)
})

for (const level of ['app', 'route'] as const) {
  t.test(`5. an onSend hook that throws (${level}-level, registered after the plugin): 500 and the write rolled back`, async (t) => {
    const db = await admin(t)
    await createTable(t, db, TABLE)
    const { app } = await buildApp(t, {
      setup (app) {
        const failing = async (): Promise<void> => { throw new Error('onSend failed') }
        if (level === 'app') app.addHook('onSend', failing)
        app.post('/w', { config: { db: { transaction: true } }, ...(level === 'route' ? { onSend: failing } : {}) }, async (request) => {
          await request.db.query(`INSERT INTO ${TABLE} (name) VALUES (?)`, ['x'])
          return { ok: true }
        })
      }
    })
    const res = await request(`${await listen(app)}/w`, { method: 'POST', body: {} })
    t.equal(res.status, 500)
    t.same(await tableNames(db, TABLE), [], 'not committed')
    await assertSettled(t, app, db)
  })
}

t.test('6. hijack on a unit-of-work route: refused while work is uncommitted (rolled back, never 200 "saved")', async (t) => {
  const db = await admin(t)
  await createTable(t, db, TABLE)
  const { app } = await buildApp(t, {
    setup (app) {
      app.post('/save', { config: { db: { transaction: true } } }, async (request, reply) => {
        await request.db.query(`INSERT INTO ${TABLE} (name) VALUES (?)`, ['uncommitted'])
        reply.hijack()
        reply.raw.end('saved')
      })
      app.post('/commit-then-hijack', { config: { db: { transaction: true } } }, async (request, reply) => {
        await request.db.query(`INSERT INTO ${TABLE} (name) VALUES (?)`, ['committed'])
        await request.db.commit()
        reply.hijack()
        // After the hijack the session runs in autocommit: this row is committed by itself.
        await request.db.query(`INSERT INTO ${TABLE} (name) VALUES (?)`, ['after-hijack'])
        reply.raw.end('saved')
      })
      app.post('/hijack-first', { config: { db: { transaction: true } } }, async (request, reply) => {
        reply.hijack()
        await request.db.query(`INSERT INTO ${TABLE} (name) VALUES (?)`, ['hijacked-first'])
        reply.raw.end('saved')
      })
    }
  })
  const url = await listen(app)
  const refused = await request(`${url}/save`, { method: 'POST', body: {} })
  t.equal(refused.status, 500, 'the handler failed: hijack refused')
  t.not(refused.body, 'saved')
  t.same(await tableNames(db, TABLE), [], 'the uncommitted write was rolled back')
  const ok = await request(`${url}/commit-then-hijack`, { method: 'POST', body: {} })
  t.equal(ok.body, 'saved')
  const first = await request(`${url}/hijack-first`, { method: 'POST', body: {} })
  t.equal(first.body, 'saved')
  await until(async () => (await tableNames(db, TABLE)).length === 3, 2000, 'rows')
  t.same(await tableNames(db, TABLE), ['committed', 'after-hijack', 'hijacked-first'])
  await assertSettled(t, app, db)
})

/** Hooks that use request.db at each stage, registered before or after the plugin. */
function addUsingHooks (app: FastifyInstance, tag: string): void {
  app.addHook('onRequest', async (request) => {
    if (request.headers['x-stage'] === 'onRequest') await request.db.query(`INSERT INTO ${TABLE} (name) VALUES (?)`, [`${tag}-onRequest`])
  })
  app.addHook('preHandler', async (request) => {
    if (request.headers['x-stage'] === 'preHandler') await request.db.query(`INSERT INTO ${TABLE} (name) VALUES (?)`, [`${tag}-preHandler`])
  })
  app.addHook('onSend', async (request) => {
    if (request.headers['x-stage'] === 'onSend') await request.db.query(`INSERT INTO ${TABLE} (name) VALUES (?)`, [`${tag}-onSend`])
    if (request.headers['x-fail'] === 'onSend') throw new Error('onSend failed')
  })
}

for (const order of ['before', 'after'] as const) {
  t.test(`hook order: user hooks registered ${order} the plugin`, async (t) => {
    const db = await admin(t)
    await createTable(t, db, TABLE)
    const { app } = await buildApp(t, {
      before: order === 'before' ? (app) => addUsingHooks(app, order) : undefined,
      setup (app) {
        if (order === 'after') addUsingHooks(app, order)
        app.post('/w', { config: { db: { transaction: true } } }, async (request) => {
          if (request.headers['x-fail'] === 'handler') throw new Error('handler failed')
          return { ok: true }
        })
      }
    })
    const url = await listen(app)
    const post = (headers: Record<string, string>): Promise<number> => new Promise((resolve, reject) => {
      const req = http.request(`${url}/w`, { method: 'POST', agent: false, headers: { 'content-type': 'application/json', ...headers } }, (res) => {
        res.resume()
        res.on('end', () => resolve(res.statusCode ?? 0))
      })
      req.on('error', reject)
      req.end('{}')
    })
    const expected: string[] = []
    for (const stage of ['onRequest', 'preHandler', 'onSend']) {
      t.equal(await post({ 'x-stage': stage }), 200, `${stage}: 200`)
      expected.push(`${order}-${stage}`)
      t.equal(await post({ 'x-stage': stage, 'x-fail': 'handler' }), 500, `${stage} + handler error: 500`)
      t.equal(await post({ 'x-stage': stage, 'x-fail': 'onSend' }), 500, `${stage} + onSend error: 500`)
    }
    t.same(await tableNames(db, TABLE), expected, 'exactly the 2xx answers committed, nothing behind an error')
    await assertSettled(t, app, db)
  })
}

t.test('reply.send(stream) and keep-alive: the session ends with each response, the socket lives on', async (t) => {
  const db = await admin(t)
  const { Readable } = await import('node:stream')
  const { app } = await buildApp(t, {
    plugin: { poolSize: 1, maxOverflow: 0, poolTimeout: 1000 },
    setup (app) {
      app.get('/stream', async (request, reply) => {
        const [rows] = await request.db.query<import('mysql2').RowDataPacket[]>('SELECT 1 AS a UNION SELECT 2')
        return reply.type('text/plain').send(Readable.from(rows.map((r) => `${String(r.a)}\n`)))
      })
    }
  })
  const url = await listen(app)
  const agent = new http.Agent({ keepAlive: true, maxSockets: 1 })
  t.teardown(() => agent.destroy())
  const sockets = new Set<unknown>()
  for (let i = 0; i < 5; i++) {
    const body = await new Promise<string>((resolve, reject) => {
      const req = http.get(`${url}/stream`, { agent }, (res) => {
        sockets.add(res.socket)
        let b = ''
        res.on('data', (c: Buffer) => { b += c.toString() })
        res.on('end', () => resolve(b))
      })
      req.on('error', reject)
    })
    t.equal(body, '1\n2\n')
  }
  t.equal(sockets.size, 1, 'one keep-alive socket carried every request')
  t.equal(app.db.stats().checkouts, 5)
  await assertSettled(t, app, db)
})
