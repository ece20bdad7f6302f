import t from 'tap'
import { count, exampleApp } from './fixtures/setup'

t.test('items: create, read, list, update, delete', async (t) => {
  const { app, admin } = await exampleApp(t, 'example_test_items')

  const created = await app.inject({ method: 'POST', url: '/items', payload: { name: 'widget', priceCents: 250, stock: 5 } })
  t.equal(created.statusCode, 201)
  const item = created.json()
  t.match(item, { id: Number, name: 'widget', priceCents: 250, stock: 5 })
  t.equal(await count(admin, 'SELECT COUNT(*) AS n FROM items WHERE id = ?', [item.id]), 1)

  // stock defaults to 0
  const gadget = await app.inject({ method: 'POST', url: '/items', payload: { name: 'gadget', priceCents: 100 } })
  t.equal(gadget.statusCode, 201)
  t.equal(gadget.json().stock, 0)

  const got = await app.inject({ method: 'GET', url: `/items/${item.id}` })
  t.equal(got.statusCode, 200)
  t.same(got.json(), item)

  const list = await app.inject({ method: 'GET', url: '/items' })
  t.equal(list.statusCode, 200)
  t.same(list.json().map((i: { name: string }) => i.name), ['widget', 'gadget'])
  const page = await app.inject({ method: 'GET', url: '/items?limit=1&offset=1' })
  t.same(page.json().map((i: { name: string }) => i.name), ['gadget'])

  const patched = await app.inject({ method: 'PATCH', url: `/items/${item.id}`, payload: { stock: 9 } })
  t.equal(patched.statusCode, 200)
  t.same(patched.json(), { ...item, stock: 9 }, 'fields left out keep their value')
  const renamed = await app.inject({ method: 'PATCH', url: `/items/${item.id}`, payload: { name: 'widget 2', priceCents: 300 } })
  t.same(renamed.json(), { id: item.id, name: 'widget 2', priceCents: 300, stock: 9 })

  const deleted = await app.inject({ method: 'DELETE', url: `/items/${item.id}` })
  t.equal(deleted.statusCode, 204)
  t.equal(deleted.body, '')
  t.equal(await count(admin, 'SELECT COUNT(*) AS n FROM items WHERE id = ?', [item.id]), 0)
  t.equal((await app.inject({ method: 'GET', url: `/items/${item.id}` })).statusCode, 404)

  t.equal(app.db.stats().checkedOut, 0, 'every connection went back to the pool')
})

t.test('items: 404 for a missing item, on every route that takes an id', async (t) => {
  const { app } = await exampleApp(t, 'example_test_items_404')
  const get = await app.inject({ method: 'GET', url: '/items/999999' })
  t.equal(get.statusCode, 404)
  t.match(get.json(), { statusCode: 404, error: 'Not Found', message: 'Item 999999 not found' })
  t.equal((await app.inject({ method: 'PATCH', url: '/items/999999', payload: { stock: 1 } })).statusCode, 404)
  t.equal((await app.inject({ method: 'DELETE', url: '/items/999999' })).statusCode, 404)
  t.equal(app.db.stats().checkedOut, 0)
})

t.test('items: schema validation answers 400 before any database work', async (t) => {
  const { app } = await exampleApp(t, 'example_test_items_400')
  const checkoutsBefore = app.db.stats().checkouts
  const bad = [
    { method: 'POST', url: '/items', payload: { priceCents: 1 } }, // name missing
    { method: 'POST', url: '/items', payload: { name: '', priceCents: 1 } }, // name too short
    { method: 'POST', url: '/items', payload: { name: 'x', priceCents: -1 } }, // negative price
    { method: 'POST', url: '/items', payload: { name: 'x', priceCents: 'cheap' } }, // not a number
    { method: 'PATCH', url: '/items/1', payload: {} }, // nothing to update
    { method: 'GET', url: '/items/abc' }, // id not an integer
    { method: 'GET', url: '/items/0' }, // id below 1
    { method: 'GET', url: '/items?limit=1000' } // limit above 100
  ] as const
  for (const req of bad) {
    const res = await app.inject(req)
    t.equal(res.statusCode, 400, `${req.method} ${req.url} ${JSON.stringify('payload' in req ? req.payload : '')}`)
    t.equal(res.json().code, 'FST_ERR_VALIDATION')
  }
  t.equal(app.db.stats().checkouts, checkoutsBefore, 'a rejected request never takes a connection')
  t.equal(app.db.stats().checkedOut, 0)
})

t.test('items: a duplicate name answers 409', async (t) => {
  const { app, admin } = await exampleApp(t, 'example_test_items_409')
  t.equal((await app.inject({ method: 'POST', url: '/items', payload: { name: 'twin', priceCents: 1 } })).statusCode, 201)
  const dup = await app.inject({ method: 'POST', url: '/items', payload: { name: 'twin', priceCents: 2 } })
  t.equal(dup.statusCode, 409)
  t.match(dup.json().message, /already exists/)
  t.equal(await count(admin, 'SELECT COUNT(*) AS n FROM items'), 1)
  t.equal(app.db.stats().checkedOut, 0)
})
