/**
 * Server-aware start-up: the facts read on the first connection, the warnings they lead to (once,
 * with the numbers and the fix), and poolRecycle 'auto' recycling below the server's wait_timeout.
 */
import t from 'tap'
import mysql from 'mysql2/promise'
import { autoRecycle, serverWarnings, ServerFactsProbe, type PoolLimits, type ServerFacts } from '../../lib/cluster/server-facts'
import { startPrivateServer, type PrivateServer } from '../helpers/private-server'
import { fakeLogger, sleep } from '../helpers/pool'
import { buildApp } from '../plugin/_helpers'

// Starts real servers: slow on a loaded machine.
t.setTimeout(240_000)

const facts: ServerFacts = { maxConnections: 100, waitTimeout: 28_800_000, maxPreparedStmtCount: 16382, readOnly: false, version: '10.11.19-MariaDB', mariadb: true }
const limits: PoolLimits = { poolSize: 5, maxOverflow: 10, recycle: autoRecycle(28_800_000), prePing: false, writes: true }

t.test('autoRecycle: a fifth below wait_timeout, at most a minute', async (t) => {
  t.equal(autoRecycle(28_800_000), 28_740_000)
  t.equal(autoRecycle(60_000), 48_000)
  t.equal(autoRecycle(3000), 2400)
  t.equal(autoRecycle(1000), 800)
})

t.test('serverWarnings: each with its numbers and its fix', async (t) => {
  t.same(serverWarnings(facts, limits, 'x'), [], 'defaults against a default server: nothing to say')
  const [off] = serverWarnings(facts, { ...limits, recycle: -1 }, 'x')
  t.match(off, /poolRecycle is off .* wait_timeout = 28800000 ms; set poolRecycle: 'auto'/)
  t.match(serverWarnings(facts, { ...limits, recycle: 30_000_000 }, 'x')[0], /poolRecycle is 30000000 ms/)
  t.same(serverWarnings(facts, { ...limits, recycle: -1, prePing: true }, 'x'), [], 'pre-ping covers it')
  t.match(serverWarnings(facts, { ...limits, poolSize: 40, maxOverflow: 20 }, 'x')[0], /may open 60 connections .* max_connections = 100 .*at most 50 for one instance/)
  t.match(serverWarnings(facts, { ...limits, maxOverflow: -1 }, 'x')[0], /an unlimited number of connections/)
  t.match(serverWarnings(facts, { ...limits, poolSize: 0 }, 'x')[0], /an unlimited number of connections/)
  t.match(serverWarnings({ ...facts, readOnly: true }, limits, 'x')[0], /read-only \(read_only = ON\).*1290/)
  t.same(serverWarnings({ ...facts, readOnly: true }, { ...limits, writes: false }, 'x'), [], 'a read-only replica pool is fine')
})

t.test('ServerFactsProbe: a failed read is retried on the next connection; warnings once', async (t) => {
  const server = await startPrivateServerWith(t, ['--wait-timeout=6', '--max-connections=20'])
  const log = fakeLogger()
  const seen: ServerFacts[] = []
  const probe = new ServerFactsProbe('probe', () => ({ ...limits, recycle: -1 }), log, (f) => seen.push(f))
  const dead = await mysql.createConnection(server.url)
  dead.on('error', () => {})
  dead.destroy()
  await probe.readOnce(dead)
  t.equal(probe.facts, undefined, 'not read from a dead connection')
  t.equal(log.at('debug').length, 1, 'said so at debug')
  const c = await mysql.createConnection(server.url)
  t.teardown(() => c.end())
  await Promise.all([probe.readOnce(c), probe.readOnce(c)])
  await probe.readOnce(c)
  t.match(probe.facts, { maxConnections: 20, waitTimeout: 6000, readOnly: false, mariadb: true })
  t.ok((probe.facts?.maxPreparedStmtCount ?? 0) > 0)
  t.equal(seen.length, 1, 'read once')
  t.equal(log.at('warn').length, 2, 'two warnings (recycle off; 15 connections > half of 20), once')
})

let serverWithLimits: PrivateServer | undefined
async function startPrivateServerWith (t: { teardown: (fn: () => unknown) => void }, args: string[]): Promise<PrivateServer> {
  serverWithLimits ??= await startPrivateServer({ args })
  t.teardown(() => {})
  return serverWithLimits
}
t.teardown(() => serverWithLimits?.remove())

t.test("the plugin: facts on the first connection, poolRecycle 'auto' by default, warnings with numbers", async (t) => {
  const server = await startPrivateServerWith(t, ['--wait-timeout=6', '--max-connections=20'])
  const { app, logs } = await buildApp(t, { plugin: { connection: server.url, poolSize: 12, maxOverflow: 0 } })
  t.equal(app.db.serverFacts, undefined, 'nothing read before the first connection (registering does no I/O)')
  await app.db.query('SELECT 1')
  t.match(app.db.serverFacts, { maxConnections: 20, waitTimeout: 6000 })
  const warnings = logs.filter((l) => l.level === 40)
  t.equal(warnings.length, 1, 'one warning: the pool size against max_connections (recycle is auto)')
  t.match(warnings[0].msg, /may open 12 connections .* max_connections = 20/)
  // 'auto' = 4800 ms here: a connection older than that is replaced at checkout, before the
  // server's 6 s (a wait_timeout this long leaves timers on a loaded machine 900 ms to be late).
  await sleep(5100)
  await app.db.query('SELECT 1')
  t.equal(app.db.stats().recycles, 1, 'recycled below wait_timeout')
  await sleep(6400)
  const [rows] = await app.db.query('SELECT 1 AS one')
  t.same(rows, [{ one: 1 }], 'after idling past wait_timeout the next query works')

  const { logs: offLogs, app: off } = await buildApp(t, { plugin: { connection: server.url, poolRecycle: -1 } })
  await off.db.query('SELECT 1')
  t.match(offLogs.filter((l) => l.level === 40).map((l) => l.msg), [/poolRecycle is off .* wait_timeout = 6000 ms/])
  // (wait_timeout is 6 s here: a connection of its own, opened now.)
  const admin = await mysql.createConnection(server.url)
  admin.on('error', () => {})
  await admin.query('SET GLOBAL read_only = 1')
  t.teardown(async () => {
    await admin.query('SET GLOBAL read_only = 0').catch(() => {})
    admin.destroy()
  })
  const { logs: roLogs, app: ro } = await buildApp(t, { plugin: { connection: server.url } })
  await ro.db.query('SELECT 1')
  // (15 connections against max_connections = 20 also gets its warning.)
  t.ok(roLogs.some((l) => l.level === 40 && /the server is read-only \(read_only = ON\)/.test(String(l.msg))), 'the read-only primary is warned about')
})
