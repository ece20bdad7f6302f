/**
 * The example app's replica route: GET /catalog reads a replica (here none is configured, so the
 * primary serves, read-only) and shows an item right after it was created.
 */
import t from 'tap'
import { buildApp } from '../../example-app/app'
import { exampleApp } from './fixtures/setup'

t.test('GET /catalog lists items in stock, read-only', async (t) => {
  const { app } = await exampleApp(t, 'fdbs_example_catalog')
  const created = await app.inject({ method: 'POST', url: '/items', payload: { name: 'Lamp', priceCents: 1500, stock: 3 } })
  t.equal(created.statusCode, 201)
  await app.inject({ method: 'POST', url: '/items', payload: { name: 'Out of stock', priceCents: 100, stock: 0 } })
  const res = await app.inject({ url: '/catalog' })
  t.equal(res.statusCode, 200)
  t.same(res.json(), [{ id: created.json<{ id: number }>().id, name: 'Lamp', priceCents: 1500, stock: 3 }])
  const s = app.db.replica()
  t.teardown(() => s.close())
  await t.rejects(s.query('DELETE FROM items'), { code: 'FST_DB_QUERY_FAILED' }, 'the replica side is read-only')
})

t.test('with a replica configured, GET /health shows its state (here not a replica at all: stopped)', async (t) => {
  const { app, url } = await exampleApp(t, 'fdbs_example_catalog_health')
  const withReplica = buildApp({ db: { connection: url, replicas: [url], causalReads: true, poolSize: 2 }, createSchema: false })
  t.teardown(() => withReplica.close())
  await withReplica.ready()
  const res = await withReplica.inject({ url: '/health' })
  t.equal(res.statusCode, 200)
  t.match(res.json(), { status: 'ok', pool: { replicas: [{ state: 'stopped', lagMs: null, checkedOut: 0 }] } })
  const list = await withReplica.inject({ url: '/catalog' })
  t.equal(list.statusCode, 200, 'the primary serves the replica route')
  t.ok(app.db.stats().replicas === undefined)
})
