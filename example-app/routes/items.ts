/**
 * CRUD for items, with Kysely on the app's typed `Database`. Inside a handler `app.kysely` runs
 * on the request's session: the plugin takes the connection at the first query and gives it
 * back when the request ends, whatever happens.
 */
import { Type, type FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { QueryError } from '../../lib'
import { ErrorReply, IdParams, Item, type ItemData } from '../schemas'

const fields = {
  name: Type.String({ minLength: 1, maxLength: 100 }),
  priceCents: Type.Integer({ minimum: 0 }),
  stock: Type.Integer({ minimum: 0 })
}

const NewItem = Type.Object({
  name: fields.name,
  priceCents: fields.priceCents,
  stock: Type.Integer({ minimum: 0, default: 0 })
}, { additionalProperties: false })

// No defaults here: a field left out keeps its current value.
const ItemPatch = Type.Object({
  name: Type.Optional(fields.name),
  priceCents: Type.Optional(fields.priceCents),
  stock: Type.Optional(fields.stock)
}, { additionalProperties: false, minProperties: 1 })

const ListQuery = Type.Object({
  limit: Type.Integer({ minimum: 1, maximum: 100, default: 20 }),
  offset: Type.Integer({ minimum: 0, default: 0 })
}, { additionalProperties: false })

const COLUMNS = ['id', 'name', 'price_cents as priceCents', 'stock'] as const

function isDuplicate (err: unknown): boolean {
  return err instanceof QueryError && err.dbCode === 'ER_DUP_ENTRY'
}

const itemRoutes: FastifyPluginAsyncTypebox = async function itemRoutes (app) {
  const db = app.kysely
  const findItem = (id: number): Promise<ItemData | undefined> =>
    db.selectFrom('items').select(COLUMNS).where('id', '=', id).executeTakeFirst()

  app.get('/items', {
    schema: { querystring: ListQuery, response: { 200: Type.Array(Item) } }
  }, async (request) => {
    const { limit, offset } = request.query
    return db.selectFrom('items').select(COLUMNS).orderBy('id').limit(limit).offset(offset).execute()
  })

  app.get('/items/:id', {
    schema: { params: IdParams, response: { 200: Item, 404: ErrorReply } }
  }, async (request) => {
    const item = await findItem(request.params.id)
    if (item === undefined) throw app.httpErrors.notFound(`Item ${request.params.id} not found`)
    return item
  })

  app.post('/items', {
    schema: { body: NewItem, response: { 201: Item, 409: ErrorReply } }
  }, async (request, reply) => {
    const { name, priceCents, stock } = request.body
    try {
      const result = await db.insertInto('items').values({ name, price_cents: priceCents, stock }).executeTakeFirstOrThrow()
      reply.code(201)
      return { id: Number(result.insertId), name, priceCents, stock }
    } catch (err) {
      if (isDuplicate(err)) throw app.httpErrors.conflict(`An item named ${JSON.stringify(name)} already exists`)
      throw err
    }
  })

  app.patch('/items/:id', {
    schema: { params: IdParams, body: ItemPatch, response: { 200: Item, 404: ErrorReply, 409: ErrorReply } }
  }, async (request) => {
    const { id } = request.params
    const { name, priceCents, stock } = request.body
    try {
      await db.updateTable('items')
        .set({ name, price_cents: priceCents, stock }) // Kysely leaves out undefined values
        .where('id', '=', id)
        .execute()
    } catch (err) {
      if (isDuplicate(err)) throw app.httpErrors.conflict(`An item named ${JSON.stringify(name)} already exists`)
      throw err
    }
    const item = await findItem(id)
    if (item === undefined) throw app.httpErrors.notFound(`Item ${id} not found`)
    return item
  })

  app.delete('/items/:id', {
    schema: { params: IdParams, response: { 204: Type.Null(), 404: ErrorReply, 409: ErrorReply } }
  }, async (request, reply) => {
    const { id } = request.params
    let deleted: bigint
    try {
      deleted = (await db.deleteFrom('items').where('id', '=', id).executeTakeFirst()).numDeletedRows
    } catch (err) {
      if (err instanceof QueryError && err.dbCode === 'ER_ROW_IS_REFERENCED_2') {
        throw app.httpErrors.conflict(`Item ${id} has orders and cannot be deleted`)
      }
      throw err
    }
    if (deleted === 0n) throw app.httpErrors.notFound(`Item ${id} not found`)
    return reply.code(204).send(null)
  })
}

export default itemRoutes
