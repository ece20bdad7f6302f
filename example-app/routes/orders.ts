/**
 * Orders. POST /orders is a unit of work (`config: { db: { transaction: true } }`): it writes two
 * tables in one transaction that the plugin commits before the response is sent, or rolls back
 * when the handler throws, so a 409 for insufficient stock leaves no order row behind.
 */
import type { FastifyInstance } from 'fastify'
import type { ResultSetHeader, RowDataPacket } from 'mysql2'
import { error, order } from './common'

interface NewOrder { itemId: number, quantity: number }
interface ListQuery { itemId?: number, limit: number }

const SELECT_ORDER = 'SELECT id, item_id AS itemId, quantity, created_at AS createdAt FROM orders'

export default async function orderRoutes (app: FastifyInstance): Promise<void> {
  app.post<{ Body: NewOrder }>('/orders', {
    config: { db: { transaction: true } },
    schema: {
      body: {
        type: 'object',
        required: ['itemId', 'quantity'],
        properties: {
          itemId: { type: 'integer', minimum: 1 },
          quantity: { type: 'integer', minimum: 1, maximum: 1000 }
        },
        additionalProperties: false
      },
      response: {
        201: {
          type: 'object',
          required: [...order.required, 'remainingStock'],
          properties: { ...order.properties, remainingStock: { type: 'integer' } }
        },
        404: error,
        409: error
      }
    }
  }, async (request, reply) => {
    const { itemId, quantity } = request.body
    const db = request.db
    // Lock the item row first: concurrent orders for the same item queue here instead of
    // deadlocking on the foreign-key check below.
    const [items] = await db.query<RowDataPacket[]>('SELECT id FROM items WHERE id = ? FOR UPDATE', [itemId])
    if (items.length === 0) throw app.httpErrors.notFound(`Item ${itemId} not found`)

    const [inserted] = await db.query<ResultSetHeader>('INSERT INTO orders (item_id, quantity) VALUES (?, ?)', [itemId, quantity])
    const [taken] = await db.query<ResultSetHeader>(
      'UPDATE items SET stock = stock - ? WHERE id = ? AND stock >= ?', [quantity, itemId, quantity])
    if (taken.affectedRows === 0) {
      // The order row above is rolled back with the rest of the transaction.
      throw app.httpErrors.conflict(`Insufficient stock for item ${itemId}`)
    }

    const [rows] = await db.query<RowDataPacket[]>(
      'SELECT o.id, o.item_id AS itemId, o.quantity, o.created_at AS createdAt, i.stock AS remainingStock ' +
      'FROM orders o JOIN items i ON i.id = o.item_id WHERE o.id = ?', [inserted.insertId])
    reply.code(201)
    return rows[0]
  })

  app.get<{ Querystring: ListQuery }>('/orders', {
    schema: {
      querystring: {
        type: 'object',
        properties: {
          itemId: { type: 'integer', minimum: 1 },
          limit: { type: 'integer', minimum: 1, maximum: 100, default: 20 }
        },
        additionalProperties: false
      },
      response: { 200: { type: 'array', items: order } }
    }
  }, async (request) => {
    const itemId = request.query.itemId ?? null
    const [rows] = await request.db.query<RowDataPacket[]>(
      `${SELECT_ORDER} WHERE (? IS NULL OR item_id = ?) ORDER BY id LIMIT ?`, [itemId, itemId, request.query.limit])
    return rows
  })
}
