import t from 'tap'
import { until } from '../helpers/pool'
import { exampleApp } from './fixtures/setup'

t.test('export: NDJSON and CSV, streamed from one read-only snapshot', async (t) => {
  const { app } = await exampleApp(t, 'example_test_export')
  const empty = await app.inject('/export/items.csv')
  t.equal(empty.body, 'id,name,priceCents,stock\r\n', 'an empty table still has its header')
  for (const [name, priceCents] of [['plain', 100], ['with, comma', 250], ['with "quotes"', 5]] as const) {
    t.equal((await app.inject({ method: 'POST', url: '/items', payload: { name, priceCents, stock: 1 } })).statusCode, 201)
  }
  const ndjson = await app.inject('/export/items.ndjson')
  t.equal(ndjson.statusCode, 200)
  t.match(ndjson.headers['content-type'], 'application/x-ndjson')
  const rows = ndjson.body.trimEnd().split('\n').map((l) => JSON.parse(l) as { name: string })
  t.same(rows.map((r) => r.name), ['plain', 'with, comma', 'with "quotes"'])
  t.match(rows[0], { id: Number, priceCents: 100, stock: 1 })
  const csv = await app.inject('/export/items.csv')
  t.equal(csv.statusCode, 200)
  t.match(csv.headers['content-disposition'], 'items.csv')
  const lines = csv.body.split('\r\n')
  t.equal(lines[0], 'id,name,priceCents,stock')
  t.match(lines[2], /^\d+,"with, comma",250,1$/)
  t.match(lines[3], /^\d+,"with ""quotes""",5,1$/)
  // A streamed response ends before its transaction's COMMIT has answered: the connection follows.
  await until(() => app.db.stats().checkedOut === 0, 3000, 'the connection to come back')
  t.equal(app.db.stats().checkedOut, 0, 'every connection went back to the pool')
})
