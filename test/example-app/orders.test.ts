import t from 'tap'
import { count, exampleApp } from './fixtures/setup'

async function newItem (app: import('fastify').FastifyInstance, name: string, stock: number): Promise<number> {
  const res = await app.inject({ method: 'POST', url: '/items', payload: { name, priceCents: 100, stock } })
  return res.json().id
}

t.test('orders: a successful order writes the order and takes the stock, in one transaction', async (t) => {
  const { app, admin } = await exampleApp(t, 'example_test_orders')
  const itemId = await newItem(app, 'apple', 5)

  const res = await app.inject({ method: 'POST', url: '/orders', payload: { itemId, quantity: 2 } })
  t.equal(res.statusCode, 201)
  const order = res.json()
  t.match(order, { id: Number, itemId, quantity: 2, remainingStock: 3 })
  t.ok(!Number.isNaN(Date.parse(order.createdAt)), 'createdAt is a date-time')
  // Committed before the response: another connection sees it.
  t.equal(await count(admin, 'SELECT stock AS n FROM items WHERE id = ?', [itemId]), 3)
  t.equal(await count(admin, 'SELECT COUNT(*) AS n FROM orders WHERE item_id = ?', [itemId]), 1)

  const list = await app.inject({ method: 'GET', url: `/orders?itemId=${itemId}` })
  t.equal(list.statusCode, 200)
  t.same(list.json(), [{ id: order.id, itemId, quantity: 2, createdAt: order.createdAt }])
  t.same((await app.inject({ method: 'GET', url: '/orders' })).json().length, 1)
  t.same((await app.inject({ method: 'GET', url: `/orders?itemId=${itemId + 1000}` })).json(), [])
  t.equal(app.db.stats().checkedOut, 0)
})

t.test('orders: insufficient stock answers 409 and rolls the order row back', async (t) => {
  const { app, admin } = await exampleApp(t, 'example_test_orders_409')
  const itemId = await newItem(app, 'pear', 3)

  const res = await app.inject({ method: 'POST', url: '/orders', payload: { itemId, quantity: 4 } })
  t.equal(res.statusCode, 409)
  t.match(res.json(), { statusCode: 409, message: `Insufficient stock for item ${itemId}` })
  t.equal(await count(admin, 'SELECT stock AS n FROM items WHERE id = ?', [itemId]), 3, 'stock unchanged')
  t.equal(await count(admin, 'SELECT COUNT(*) AS n FROM orders'), 0, 'the order inserted before the stock check was rolled back')
  t.same((await app.inject({ method: 'GET', url: '/orders' })).json(), [])
  t.equal(app.db.stats().checkedOut, 0)
})

t.test('orders: an unknown item answers 404, a bad body 400; nothing written', async (t) => {
  const { app, admin } = await exampleApp(t, 'example_test_orders_404')
  const res = await app.inject({ method: 'POST', url: '/orders', payload: { itemId: 424242, quantity: 1 } })
  t.equal(res.statusCode, 404)
  t.equal(res.json().message, 'Item 424242 not found')
  for (const payload of [{ itemId: 1 }, { itemId: 1, quantity: 0 }, { itemId: 'one', quantity: 1 }]) {
    const bad = await app.inject({ method: 'POST', url: '/orders', payload })
    t.equal(bad.statusCode, 400, JSON.stringify(payload))
  }
  t.equal(await count(admin, 'SELECT COUNT(*) AS n FROM orders'), 0)
  t.equal(app.db.stats().checkedOut, 0)
})

t.test('orders: concurrent orders never oversell (the row lock serialises them)', async (t) => {
  const { app, admin } = await exampleApp(t, 'example_test_orders_race')
  const itemId = await newItem(app, 'plum', 3)
  const results = await Promise.all(Array.from({ length: 6 }, () =>
    app.inject({ method: 'POST', url: '/orders', payload: { itemId, quantity: 1 } })))
  const codes = results.map((r) => r.statusCode).sort()
  t.same(codes, [201, 201, 201, 409, 409, 409])
  t.equal(await count(admin, 'SELECT stock AS n FROM items WHERE id = ?', [itemId]), 0)
  t.equal(await count(admin, 'SELECT COUNT(*) AS n FROM orders'), 3)
  t.equal(app.db.stats().checkedOut, 0)
})

t.test('orders: an item with orders cannot be deleted (409)', async (t) => {
  const { app, admin } = await exampleApp(t, 'example_test_orders_fk')
  const itemId = await newItem(app, 'fig', 2)
  t.equal((await app.inject({ method: 'POST', url: '/orders', payload: { itemId, quantity: 1 } })).statusCode, 201)
  const res = await app.inject({ method: 'DELETE', url: `/items/${itemId}` })
  t.equal(res.statusCode, 409)
  t.equal(await count(admin, 'SELECT COUNT(*) AS n FROM items'), 1)
  t.equal(app.db.stats().checkedOut, 0)
})

t.test('orders over real HTTP (listen + fetch): POST bodies and the transaction work on a socket too', async (t) => {
  const { app, admin } = await exampleApp(t, 'example_test_orders_http')
  const base = await app.listen({ port: 0, host: '127.0.0.1' })
  const post = (url: string, body: unknown): Promise<Response> =>
    fetch(base + url, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) })

  const created = await post('/items', { name: 'kiwi', priceCents: 50, stock: 2 })
  t.equal(created.status, 201)
  const itemId = (await created.json() as { id: number }).id
  t.equal((await post('/orders', { itemId, quantity: 2 })).status, 201)
  t.equal((await post('/orders', { itemId, quantity: 1 })).status, 409)
  t.equal(await count(admin, 'SELECT stock AS n FROM items WHERE id = ?', [itemId]), 0)
  t.equal(await count(admin, 'SELECT COUNT(*) AS n FROM orders'), 1)
  t.equal(app.db.stats().checkedOut, 0)
})
