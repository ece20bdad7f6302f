/**
 * The plain route's cost in promises, counted (not timed): every promise is work for V8, and on
 * Node 20 and 22 AsyncLocalStorage (the request context behind `app.db.current()`) runs a hook
 * for each one in the process. A read through `request.db` — lazy session, checkout, statement,
 * release, the onSend and onResponse hooks — may add only a handful over a route without the
 * database. A change that puts an async hop back on this path fails here.
 */
import t from 'tap'
import { createHook } from 'node:async_hooks'
import Fastify from 'fastify'
import sensible from '@fastify/sensible'
import { dbSession } from '../../lib'
import { databaseUrl } from '../helpers/db'

/** Statement, checkout and release together: at most this many promises over the bare route (the handle's, the one that translates its errors, the await on it). */
const EXTRA_PROMISES = 3

t.test('a read through request.db adds at most a handful of promises to a route', async (t) => {
  let counting = false
  let promises = 0
  const hook = createHook({ init (_id, type) { if (counting && type === 'PROMISE') promises++ } }).enable()
  t.teardown(() => hook.disable())
  const app = Fastify({ logger: false })
  await app.register(sensible)
  await app.register(dbSession, { connection: await databaseUrl(), poolSize: 2, maxOverflow: 0 })
  app.get('/db', async (request) => (await request.db.query('SELECT 1 AS one'))[0])
  app.get('/bare', async () => [{ one: 1 }])
  t.teardown(() => app.close())

  const perRequest = async (path: string): Promise<number> => {
    for (let i = 0; i < 10; i++) await app.inject(path) // connections open, code warm
    promises = 0
    counting = true
    for (let i = 0; i < 50; i++) {
      const res = await app.inject(path)
      if (res.statusCode !== 200) throw new Error(`${path}: ${res.statusCode}`)
    }
    counting = false
    return promises / 50
  }
  const bare = await perRequest('/bare')
  const db = await perRequest('/db')
  t.ok(db - bare <= EXTRA_PROMISES, `request.db read: ${db} promises per request, bare route ${bare}: ${db - bare} more (at most ${EXTRA_PROMISES})`)
  t.equal(app.db.stats().checkedOut, 0, 'every connection back')
})
