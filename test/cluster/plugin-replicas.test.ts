/**
 * Replicas through the plugin on a real primary + GTID replica: `{ db: { replica: true } }`
 * routes read the replica read-only, a read right after a write (two HTTP requests) sees it with
 * causal reads, app.db.replica() and stats().replicas work outside requests, the monitor starts
 * on ready and stops on close.
 */
import t from 'tap'
import mysql from 'mysql2/promise'
import { InvalidOptionError, QueuePool } from '../../lib'
import { startReplicationPair, type ReplicationPair } from '../helpers/replication'
import { buildApp, completedLines } from '../plugin/_helpers'
import { sleep } from '../helpers/pool'
import { errnoOf, serverId } from './_helpers'
import type { FastifyInstance } from 'fastify'

// Starts real servers: slow on a loaded machine.
t.setTimeout(240_000)

let pair: ReplicationPair
t.before(async () => {
  pair = await startReplicationPair()
  const admin = await mysql.createConnection(pair.primary.url)
  await admin.query('CREATE TABLE test.posts (id INT AUTO_INCREMENT PRIMARY KEY, title VARCHAR(40))')
  await admin.end()
  await pair.caughtUp()
})
t.teardown(() => pair.remove())

function routes (app: FastifyInstance): void {
  app.post<{ Body: { title: string } }>('/posts', async (request) => {
    const [res] = await request.db.query('INSERT INTO test.posts (title) VALUES (?)', [request.body.title])
    return { id: (res as { insertId: number }).insertId }
  })
  app.get<{ Params: { id: string } }>('/posts/:id', { config: { db: { replica: true } } }, async (request) => {
    const [rows] = await request.db.query('SELECT title, @@server_id AS server FROM test.posts WHERE id = ?', [request.params.id])
    const found = (rows as Array<{ title: string, server: number }>)[0]
    return found ?? { title: null, server: await serverId(request.db) }
  })
  app.post('/sneaky-write', { config: { db: { replica: true } } }, async (request) => {
    await request.db.query('INSERT INTO test.posts (title) VALUES ("sneaky")')
    return { ok: true }
  })
  app.get('/in-transaction', { config: { db: { replica: true, transaction: true } } }, async (request) => {
    return { server: await serverId(request.db), inTransaction: request.db.inTransaction }
  })
}

t.test('replica routes, causal reads over HTTP, read-only refusal, stats and app.db.replica()', async (t) => {
  const { app, logs } = await buildApp(t, {
    // A long check deadline: a check held up on a loaded machine must not mark the replica unreachable mid-test.
    plugin: { connection: pair.primary.url, replicas: [pair.replica.url], causalReads: true, replicaCheckInterval: 200, replicaCheckTimeout: 10_000 },
    setup: routes
  })
  t.match(app.db.stats().replicas, [{ replica: `127.0.0.1:${pair.replica.port}`, state: 'healthy', lagMs: 0 }], 'checked once before ready resolved')
  let seen = 0
  let onReplica = 0
  for (let i = 0; i < 100; i++) {
    const title = `post ${i}`
    const created = await app.inject({ method: 'POST', url: '/posts', payload: { title } })
    const { id } = created.json<{ id: number }>()
    const read = await app.inject({ url: `/posts/${id}` })
    const body = read.json<{ title: string | null, server: number }>()
    if (body.title === title) seen++
    if (body.server === 2) onReplica++
  }
  t.equal(seen, 100, 'every read right after its write saw it')
  t.ok(onReplica >= 95, `and came from the replica (${onReplica}/100)`)

  const sneaky = await app.inject({ method: 'POST', url: '/sneaky-write' })
  t.equal(sneaky.statusCode, 500, 'a write on a replica route is an error response')
  t.match(sneaky.json(), { code: 'FST_DB_QUERY_FAILED' })
  t.notMatch(sneaky.body, /INSERT|READ ONLY transaction/, 'no SQL or server text in the response')

  const tx = await app.inject({ url: '/in-transaction' })
  t.same(tx.json(), { server: 2, inTransaction: true }, 'a unit of work on a replica route: a read-only transaction there')

  const s = app.db.replica()
  t.equal(await serverId(s), 2, 'app.db.replica() runs on the replica')
  t.equal(errnoOf(await s.query('DELETE FROM test.posts').catch((e: unknown) => e)), 1792)
  await s.close()
  const stats = app.db.stats()
  t.equal(stats.checkedOut, 0, 'the primary pool fields are there')
  t.match(stats.replicas?.[0], { checkedOut: 0, causalWaits: 103, state: 'healthy' })
  t.match(app.db.serverFacts, { maxConnections: 200, mariadb: true, readOnly: false })
  const line = completedLines(logs).find((l) => l.req === undefined && l.dbSession !== undefined)
  t.ok(line !== undefined, 'replica requests are on the request log line like any other')
  const replicaPool = app.db.stats().replicas
  await app.close()
  t.ok(replicaPool !== undefined)
  const checkedAt = app.db.stats().replicas?.[0].checkedAt
  await sleep(450)
  t.equal(app.db.stats().replicas?.[0].checkedAt, checkedAt, 'the monitor stopped with the app')
})

t.test('without replicas a replica route still refuses writes (the primary, read-only)', async (t) => {
  const { app } = await buildApp(t, { plugin: { connection: pair.primary.url }, setup: routes })
  const res = await app.inject({ method: 'POST', url: '/sneaky-write' })
  t.equal(res.statusCode, 500)
  const read = await app.inject({ url: '/posts/1' })
  t.equal(read.json<{ server: number }>().server, 1)
  t.equal(app.db.stats().replicas, undefined, 'no replica stats')
  const s = app.db.replica()
  t.equal(errnoOf(await s.query('DELETE FROM test.posts').catch((e: unknown) => e)), 1792)
  await s.close()
})

t.test('replica options are validated; replicas need connection, not pool', async (t) => {
  const pool = new QueuePool(() => mysql.createConnection(pair.primary.url))
  t.teardown(() => pool.close())
  const err = await buildApp(t, { plugin: { connection: undefined, pool, replicas: [pair.replica.url] } }).catch((e: unknown) => e)
  t.type(err, InvalidOptionError)
  t.match(err, { option: 'replicas', message: /needs connection/ })
  const own = await buildApp(t, { plugin: { connection: pair.primary.url, replicas: [{ connection: pair.replica.url, poolSize: 1, maxOverflow: 0 }] } })
  t.match(own.app.db.stats().replicas?.[0], { size: 1 }, 'a replica entry with pool options of its own')
  t.equal(own.app.db.stats().size, 5, 'the primary keeps its own')
})
