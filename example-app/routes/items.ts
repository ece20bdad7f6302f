/**
 * CRUD for items. Every handler uses `request.db`: the session takes a pooled connection at its
 * first statement and the plugin gives it back when the request ends, whatever happens.
 */
import type { FastifyInstance } from 'fastify'
import type { ResultSetHeader, RowDataPacket } from 'mysql2'
import { QueryError } from '../../lib'
import { error, idParams, item, type IdParams, type Item } from './common'

const SELECT_ITEM = 'SELECT id, name, price_cents AS priceCents, stock FROM items'

interface ListQuery { limit: number, offset: number }
interface NewItem { name: string, priceCents: number, stock: number }
type ItemPatch = Partial<NewItem>

const fields = {
  name: { type: 'string', minLength: 1, maxLength: 100 },
  priceCents: { type: 'integer', minimum: 0 },
  stock: { type: 'integer', minimum: 0 }
} as const

const newItemBody = {
  type: 'object',
  required: ['name', 'priceCents'],
  properties: { ...fields, stock: { ...fields.stock, default: 0 } },
  additionalProperties: false
} as const

// No defaults here: a field left out keeps its current value.
const patchBody = {
  type: 'object',
  minProperties: 1,
  properties: fields,
  additionalProperties: false
} as const

function isDuplicate (err: unknown): boolean {
  return err instanceof QueryError && err.dbCode === 'ER_DUP_ENTRY'
}

export default async function itemRoutes (app: FastifyInstance): Promise<void> {
  app.get<{ Querystring: ListQuery }>('/items', {
    schema: {
      querystring: {
        type: 'object',
        properties: {
          limit: { type: 'integer', minimum: 1, maximum: 100, default: 20 },
          offset: { type: 'integer', minimum: 0, default: 0 }
        },
        additionalProperties: false
      },
      response: { 200: { type: 'array', items: item } }
    }
  }, async (request) => {
    const { limit, offset } = request.query
    const [rows] = await request.db.query<RowDataPacket[]>(`${SELECT_ITEM} ORDER BY id LIMIT ? OFFSET ?`, [limit, offset])
    return rows
  })

  app.get<{ Params: IdParams }>('/items/:id', {
    schema: { params: idParams, response: { 200: item, 404: error } }
  }, async (request) => {
    const [rows] = await request.db.query<RowDataPacket[]>(`${SELECT_ITEM} WHERE id = ?`, [request.params.id])
    if (rows.length === 0) throw app.httpErrors.notFound(`Item ${request.params.id} not found`)
    return rows[0]
  })

  app.post<{ Body: NewItem }>('/items', {
    schema: { body: newItemBody, response: { 201: item, 409: error } }
  }, async (request, reply) => {
    const { name, priceCents, stock } = request.body
    let result: ResultSetHeader
    try {
      [result] = await request.db.query<ResultSetHeader>(
        'INSERT INTO items (name, price_cents, stock) VALUES (?, ?, ?)', [name, priceCents, stock])
    } catch (err) {
      if (isDuplicate(err)) throw app.httpErrors.conflict(`An item named ${JSON.stringify(name)} already exists`)
      throw err
    }
    reply.code(201)
    const created: Item = { id: result.insertId, name, priceCents, stock }
    return created
  })

  app.patch<{ Params: IdParams, Body: ItemPatch }>('/items/:id', {
    schema: { params: idParams, body: patchBody, response: { 200: item, 404: error, 409: error } }
  }, async (request) => {
    const { id } = request.params
    const { name, priceCents, stock } = request.body
    try {
      // COALESCE keeps the current value of every field the body leaves out.
      await request.db.query(
        'UPDATE items SET name = COALESCE(?, name), price_cents = COALESCE(?, price_cents), stock = COALESCE(?, stock) WHERE id = ?',
        [name ?? null, priceCents ?? null, stock ?? null, id])
    } catch (err) {
      if (isDuplicate(err)) throw app.httpErrors.conflict(`An item named ${JSON.stringify(name)} already exists`)
      throw err
    }
    const [rows] = await request.db.query<RowDataPacket[]>(`${SELECT_ITEM} WHERE id = ?`, [id])
    if (rows.length === 0) throw app.httpErrors.notFound(`Item ${id} not found`)
    return rows[0]
  })

  app.delete<{ Params: IdParams }>('/items/:id', {
    schema: { params: idParams, response: { 204: { type: 'null' }, 404: error, 409: error } }
  }, async (request, reply) => {
    const { id } = request.params
    let result: ResultSetHeader
    try {
      [result] = await request.db.query<ResultSetHeader>('DELETE FROM items WHERE id = ?', [id])
    } catch (err) {
      if (err instanceof QueryError && err.dbCode === 'ER_ROW_IS_REFERENCED_2') {
        throw app.httpErrors.conflict(`Item ${id} has orders and cannot be deleted`)
      }
      throw err
    }
    if (result.affectedRows === 0) throw app.httpErrors.notFound(`Item ${id} not found`)
    return reply.code(204).send()
  })
}
