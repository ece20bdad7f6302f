/**
 * close() closes every connection the pool ever handed out, whatever its dispose epoch, and never
 * hands out a connection that finished opening after close() gave up waiting (issue #16).
 */
import t from 'tap'
import mysql from 'mysql2/promise'
import { performance } from 'node:perf_hooks'
import { PoolClosedError } from '../../lib/errors'
import { QueuePool } from '../../lib/pool'
import { aliveThreads, databaseUrl } from '../helpers/db'
import { admin, fakeLogger, sleep, threadOf, until } from '../helpers/pool'

/** A creator whose next connect can be held back until released. */
function gatedCreator (url: string): { create: () => Promise<mysql.Connection>, holdNext: () => void, release: () => void, opened: number[] } {
  let hold = false
  let release: () => void = () => {}
  const opened: number[] = []
  return {
    opened,
    holdNext: () => { hold = true },
    release: () => release(),
    create: async () => {
      const gate = hold ? new Promise<void>((resolve) => { release = resolve }) : undefined
      hold = false
      const conn = await mysql.createConnection(url)
      opened.push(conn.threadId)
      await gate
      return conn
    }
  }
}

t.test('after dispose(), close() waits for a connection checked out before it, then closes it', async (t) => {
  const a = await admin(t)
  const url = await databaseUrl()
  const pool = new QueuePool(() => mysql.createConnection(url), { poolSize: 1, maxOverflow: 0, closeTimeout: 5000, logger: fakeLogger() })
  const h = await pool.connect()
  const id = threadOf(h)
  await pool.dispose()
  let closed = false
  const closing = pool.close().then(() => { closed = true })
  await sleep(100)
  t.equal(closed, false, 'close() still waits for the pre-dispose checkout')
  t.equal(await h.query('SELECT 1').then(() => 'ok'), 'ok', 'it keeps working meanwhile')
  await h.close()
  await closing
  await until(async () => (await aliveThreads(a, [id])).length === 0, 5000, 'the pre-dispose connection closed')
})

t.test('after dispose(), close() bounded by closeTimeout destroys a pre-dispose straggler', async (t) => {
  const a = await admin(t)
  const url = await databaseUrl()
  const pool = new QueuePool(() => mysql.createConnection(url), { poolSize: 1, maxOverflow: 0, closeTimeout: 150, logger: fakeLogger() })
  const h = await pool.connect()
  const id = threadOf(h)
  await pool.dispose()
  const started = performance.now()
  await pool.close()
  t.ok(performance.now() - started >= 140, 'waited for closeTimeout')
  await until(async () => (await aliveThreads(a, [id])).length === 0, 5000, 'the straggler closed')
  await t.rejects(h.query('SELECT 1'))
  await h.close()
})

t.test('a checkout still connecting at dispose() is waited for by close() and closed', async (t) => {
  const a = await admin(t)
  const url = await databaseUrl()
  const creator = gatedCreator(url)
  const pool = new QueuePool(creator.create, { poolSize: 1, maxOverflow: 0, closeTimeout: 5000, logger: fakeLogger() })
  creator.holdNext()
  const checkout = pool.connect()
  await until(() => creator.opened.length === 1, 5000, 'the connection to open')
  await pool.dispose()
  let closed = false
  const closing = pool.close().then(() => { closed = true })
  await sleep(50)
  t.equal(closed, false, 'close() waits for the connect in flight')
  creator.release()
  const h = await checkout // handed out: close() had not given up yet
  await sleep(50)
  t.equal(closed, false, 'and then for its return')
  await h.close()
  await closing
  await until(async () => (await aliveThreads(a, creator.opened)).length === 0, 5000, 'its connection closed')
})

t.test('a connect that completes after closeTimeout expired is refused and its connection closed', async (t) => {
  const a = await admin(t)
  const url = await databaseUrl()
  const creator = gatedCreator(url)
  const pool = new QueuePool(creator.create, { poolSize: 1, maxOverflow: 0, closeTimeout: 50, logger: fakeLogger() })
  creator.holdNext()
  const checkout = pool.connect()
  await until(() => creator.opened.length === 1, 5000, 'the connection to open')
  await pool.close()
  creator.release()
  await t.rejects(checkout, PoolClosedError)
  await until(async () => (await aliveThreads(a, creator.opened)).length === 0, 5000, 'the late connection closed')
  t.equal(pool.checkedout(), 0)
})
