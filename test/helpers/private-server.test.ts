import t from 'tap'
import mysql from 'mysql2/promise'
import { existsSync } from 'node:fs'
import { databaseUrl, adminConnection, openTransactions, serverThreads } from './db'
import { startPrivateServer } from './private-server'

t.test('databaseUrl answers and is cached', async (t) => {
  const url = await databaseUrl()
  t.equal(await databaseUrl(), url)
  const admin = await adminConnection()
  t.teardown(() => admin.end())
  t.type(await openTransactions(admin), 'number')
  t.type(await serverThreads(admin), 'number')
})

t.test('private server: start, stop, start again, remove', async (t) => {
  const server = await startPrivateServer()
  t.teardown(() => server.remove())
  t.match(server.url, /^mysql:\/\/root@127\.0\.0\.1:\d+\/test$/)

  const c1 = await mysql.createConnection(server.url)
  const [rows] = await c1.query<mysql.RowDataPacket[]>('SELECT 1 AS one')
  t.equal(rows[0].one, 1)
  // Root with a real grant table: KILL and user management work.
  await c1.query("CREATE USER IF NOT EXISTS 'probe'@'%'")
  await c1.query("DROP USER 'probe'@'%'")
  c1.on('error', () => {})

  await server.stop()
  await t.rejects(mysql.createConnection({ uri: server.url, connectTimeout: 1000 }))

  await server.start()
  const c2 = await mysql.createConnection(server.url)
  const [rows2] = await c2.query<mysql.RowDataPacket[]>('SELECT 2 AS two')
  t.equal(rows2[0].two, 2)
  await c2.end()

  await server.kill()
  await server.start()
  const c3 = await mysql.createConnection(server.url)
  await c3.end()

  await server.remove()
  t.notOk(existsSync(server.dir), 'datadir removed')
})
