/**
 * session.stream(): back-pressure with a slow consumer (memory bounded, the socket really paused),
 * a client abort mid-stream (statement stopped, nothing left in PROCESSLIST, connection reused), an
 * error mid-stream (QueryError), a consumer leaving early, the session closing under a stream, and
 * streams inside transactions.
 */
import http from 'node:http'
import v8 from 'node:v8'
import vm from 'node:vm'
import { pipeline, Transform } from 'node:stream'
import t from 'tap'
import type { RowDataPacket } from 'mysql2'
import { QueryError, Session, SessionClosedError } from '../../lib'
import { QueuePool } from '../../lib/pool'
import { runningStatement } from '../helpers/db'
import { admin, realPool, sleep, until } from '../helpers/pool'
import { buildApp, completedLines, listen, request, type LogLine } from '../plugin/_helpers'

const TABLE = 'stream_items'

// A real GC between samples, so the heap figure is what is retained, not garbage not yet collected.
v8.setFlagsFromString('--expose-gc')
const gc = vm.runInNewContext('gc') as () => void
const BIG = "SELECT seq AS id, REPEAT('x', 1000) AS pad FROM seq_1_to_100000"

/** Statements of these server threads still in PROCESSLIST (not idle). */
async function busyThreads (db: Awaited<ReturnType<typeof admin>>, ids: Iterable<number>): Promise<number> {
  const list = [...ids]
  if (list.length === 0) return 0
  const [rows] = await db.query<RowDataPacket[]>("SELECT COUNT(*) AS n FROM information_schema.processlist WHERE id IN (?) AND command <> 'Sleep'", [list])
  return Number(rows[0].n)
}

function ndjson (): Transform {
  return new Transform({ writableObjectMode: true, transform (row, _enc, cb) { cb(null, JSON.stringify(row) + '\n') } })
}

t.test('streams', async (t) => {
  const db = await admin(t)
  await db.query(`DROP TABLE IF EXISTS ${TABLE}`)
  await db.query(`CREATE TABLE ${TABLE} (id INT PRIMARY KEY, name VARCHAR(50)) ENGINE=InnoDB`)
  t.teardown(() => db.query(`DROP TABLE IF EXISTS ${TABLE}`))

  t.test('100k rows with a slow consumer: back-pressure pauses the socket, memory stays bounded', async (t) => {
    const pool = await realPool(t, QueuePool, { poolSize: 1 })
    const s = new Session(pool)
    t.teardown(() => s.close())
    const thread = Number((await s.query<RowDataPacket[]>('SELECT CONNECTION_ID() AS id'))[0][0].id)
    gc()
    const heapBefore = process.memoryUsage().heapUsed
    const stream = s.stream<{ id: number, pad: string }>(BIG, undefined, { highWaterMark: 50 })
    // Nobody reads for a while: the buffer fills to the high-water mark and stops there.
    await sleep(400)
    t.ok(stream.readableLength <= 51, `at most highWaterMark rows buffered while nobody reads (${stream.readableLength})`)
    t.ok(await runningStatement(db, thread, 'SELECT seq'), 'the statement is still running on the server, held by back-pressure')
    let count = 0
    let maxBuffered = 0
    let maxHeap = 0
    for await (const row of stream) {
      count++
      if (row.id !== count) t.fail(`row ${count} out of order`)
      maxBuffered = Math.max(maxBuffered, stream.readableLength)
      if (count % 5000 === 0) {
        if (count % 20_000 === 0) {
          gc()
          maxHeap = Math.max(maxHeap, process.memoryUsage().heapUsed - heapBefore)
        }
        await sleep(5) // slow consumer
      }
    }
    t.equal(count, 100_000)
    t.ok(maxBuffered <= 51, `buffer never beyond the high-water mark (max ${maxBuffered})`)
    // 100k rows of 1 KB = 100 MB of result; holding it (or any part growing with it) would show here.
    t.ok(maxHeap < 20 * 1024 * 1024, `retained heap bounded (${(maxHeap / 1048576).toFixed(1)} MB after GC, for a 100 MB result)`)
    t.equal(s.streaming, false)
    t.same((await s.query<RowDataPacket[]>('SELECT 2 AS two'))[0], [{ two: 2 }], 'the session goes on')
  })

  t.test('an error mid-stream destroys the stream with a QueryError; the session goes on', async (t) => {
    const pool = await realPool(t, QueuePool, { poolSize: 1 })
    const s = new Session(pool)
    t.teardown(() => s.close())
    let count = 0
    const err = await (async () => {
      for await (const row of s.stream('SELECT IF(seq < 5000, seq, (SELECT seq FROM seq_1_to_2)) AS v FROM seq_1_to_10000')) { void row; count++ }
    })().catch((e: unknown) => e) as QueryError
    t.ok(err instanceof QueryError)
    t.equal(err.errno, 1242, 'ER_SUBQUERY_NO_1_ROW after some rows')
    t.ok(count > 4000 && count < 5000, `the rows before the failure arrived (${count}; those still buffered are dropped with the error)`)
    t.notMatch(err.message, /seq_1_to/, 'no SQL in the message')
    t.same((await s.query<RowDataPacket[]>('SELECT 1 AS one'))[0], [{ one: 1 }])
    t.equal(pool.checkedout(), 1)
  })

  t.test('a consumer leaving early (break) stops the statement; the next statement runs at once', async (t) => {
    const pool = await realPool(t, QueuePool, { poolSize: 1 })
    const s = new Session(pool)
    t.teardown(() => s.close())
    const thread = Number((await s.query<RowDataPacket[]>('SELECT CONNECTION_ID() AS id'))[0][0].id)
    let n = 0
    for await (const row of s.stream("SELECT seq, REPEAT('y', 1000) FROM seq_1_to_1000000")) {
      void row
      if (++n === 10) break
    }
    const started = Date.now()
    t.same((await s.query<RowDataPacket[]>('SELECT CONNECTION_ID() AS id'))[0], [{ id: thread }], 'same connection')
    t.ok(Date.now() - started < 3000, 'not after reading a million rows')
    t.equal(await busyThreads(db, [thread]), 0, 'nothing left running')
  })

  t.test('closing the session under a paused stream: the stream fails, the pool stops the statement and reuses the connection', async (t) => {
    const pool = await realPool(t, QueuePool, { poolSize: 1, maxOverflow: 0 })
    const s = new Session(pool)
    const thread = Number((await s.query<RowDataPacket[]>('SELECT CONNECTION_ID() AS id'))[0][0].id)
    const stream = s.stream(BIG)
    const failed = new Promise<unknown>((resolve) => stream.once('error', resolve))
    await until(() => stream.readableLength > 0, 5000, 'rows')
    await s.close()
    t.ok(await failed instanceof SessionClosedError)
    const next = new Session(pool)
    t.teardown(() => next.close())
    t.same((await next.query<RowDataPacket[]>('SELECT CONNECTION_ID() AS id'))[0], [{ id: thread }], 'the connection was reset and reused, not destroyed')
    t.equal(await busyThreads(db, [thread]), 0)
    t.throws(() => s.stream('SELECT 1'), SessionClosedError)
  })

  t.test('stream inside transaction(fn) sees its own uncommitted rows', async (t) => {
    const pool = await realPool(t, QueuePool, { poolSize: 1 })
    const s = new Session(pool)
    t.teardown(() => s.close())
    const names = await s.transaction(async () => {
      await s.query(`INSERT INTO ${TABLE} VALUES (1, 'a'), (2, 'b')`)
      const out: string[] = []
      for await (const row of s.stream<[number, string]>(`SELECT id, name FROM ${TABLE} ORDER BY id`, undefined, { rowsAsArray: true })) out.push(row[1])
      throw Object.assign(new Error('undo'), { out })
    }).catch((e: { out: string[] }) => e.out)
    t.same(names, ['a', 'b'])
    t.equal((await db.query<RowDataPacket[]>(`SELECT COUNT(*) AS n FROM ${TABLE}`))[0][0].n, 0, 'rolled back')
  })

  t.test('options are validated', async (t) => {
    const pool = await realPool(t, QueuePool, { poolSize: 1 })
    const s = new Session(pool)
    t.teardown(() => s.close())
    t.throws(() => s.stream('SELECT 1', [], { highWaterMark: 0 }), { code: 'FST_DB_INVALID_OPTION', message: /stream\.highWaterMark/ })
    t.throws(() => s.stream('SELECT 1', [], { batch: 5 } as never), { message: /Unknown stream option batch/ })
    const values = await s.stream<{ v: number }>({ sql: 'SELECT ? AS v' }, [7]).toArray()
    t.same(values, [{ v: 7 }], 'QueryOptions and values')
  })

  t.test('over HTTP', async (t) => {
    const { app, threadIds, logs } = await buildApp(t, {
      plugin: { poolSize: 1, maxOverflow: 0 },
      setup (app) {
        app.get('/export', async (request, reply) => {
          reply.type('application/x-ndjson')
          return pipeline(request.db.stream(BIG), ndjson(), () => {})
        })
        app.post('/uow', { config: { db: { transaction: true } } }, async (request, reply) => {
          await request.db.query(`INSERT INTO ${TABLE} VALUES (10, 'in-tx')`)
          reply.type('application/x-ndjson')
          return pipeline(request.db.stream(`SELECT name FROM ${TABLE}`), ndjson(), () => {})
        })
        app.get('/fail', async (_request, reply) => {
          reply.type('application/x-ndjson')
          return pipeline(_request.db.stream('SELECT IF(seq < 50000, seq, (SELECT seq FROM seq_1_to_2)) AS v FROM seq_1_to_100000'), ndjson(), () => {})
        })
        app.get('/who', async (request) => (await request.db.query('SELECT CONNECTION_ID() AS id'))[0])
      }
    })
    const base = await listen(app)

    t.test('client abort mid-stream: statement stopped, connection returned and reused', async (t) => {
      await new Promise<void>((resolve, reject) => {
        const req = http.get(`${base}/export`, { agent: false }, (res) => {
          let bytes = 0
          res.on('data', (chunk: Buffer) => {
            bytes += chunk.length
            if (bytes > 200_000) {
              req.destroy()
              resolve()
            }
          })
        })
        req.on('error', (err) => { if (!req.destroyed) reject(err) })
      })
      await until(() => app.db.stats().checkedOut === 0, 5000, 'the connection to come back')
      await until(async () => await busyThreads(db, threadIds) === 0, 5000, 'no statement left running')
      t.equal(app.db.stats().checkedOut, 0)
      const who = await request(`${base}/who`)
      t.same(JSON.parse(who.body), [{ id: [...threadIds][0] }], 'the same connection serves the next request')
      t.equal(threadIds.size, 1, 'no connection was destroyed')
    })

    t.test('a full export', async (t) => {
      const res = await request(`${base}/export`)
      const lines = res.body.trimEnd().split('\n')
      t.equal(lines.length, 100_000)
      t.same(JSON.parse(lines[99_999]).id, 100_000)
      t.equal(app.db.stats().checkedOut, 0)
    })

    t.test('unit of work: the stream sees the request\'s write, committed once the response is sent', async (t) => {
      const res = await request(`${base}/uow`, { method: 'POST' })
      t.equal(res.status, 200)
      t.match(res.body, /"in-tx"/)
      await until(async () => Number((await db.query<RowDataPacket[]>(`SELECT COUNT(*) AS n FROM ${TABLE} WHERE id = 10`))[0][0].n) === 1, 3000, 'commit')
      await until(() => app.db.stats().checkedOut === 0, 3000, 'release')
      // The request's log line is written once the COMMIT in flight answered, so it says so.
      const uowLine = (): LogLine | undefined => {
        const incoming = [...logs].reverse().find((l) => l.msg === 'incoming request' && (l.req as { url?: string }).url === '/uow')
        return completedLines(logs).find((l) => l.reqId === incoming?.reqId)
      }
      await until(() => uowLine() !== undefined, 3000, 'the log line')
      t.match(uowLine()?.dbSession, { commits: 1, rollbacks: 0 }, 'the log line counts the streamed unit of work\'s COMMIT')
      await db.query(`DELETE FROM ${TABLE}`)
    })

    t.test('an error mid-stream over HTTP: the response is cut, the connection comes back', async (t) => {
      const res = await new Promise<{ complete: boolean, body: string }>((resolve) => {
        http.get(`${base}/fail`, { agent: false }, (r) => {
          let body = ''
          r.setEncoding('utf8')
          r.on('data', (c: string) => { body += c })
          r.on('close', () => resolve({ complete: r.complete, body }))
          r.on('error', () => {})
        })
      })
      t.equal(res.complete, false, 'the client sees an incomplete response, not a truncated "success"')
      t.notMatch(res.body, /seq_1_to/)
      await until(() => app.db.stats().checkedOut === 0, 3000, 'release')
      t.equal((await request(`${base}/who`)).status, 200)
    })
  })
})
