/**
 * Orders. POST /orders is a unit of work (`config: { db: { transaction: true } }`): the order
 * service writes two tables through Kysely, inside the one transaction the plugin commits before
 * the response is sent, or rolls back when the handler throws; so a 409 for insufficient stock
 * leaves no order row behind.
 */
import { Type, type FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { ErrorReply, Order } from '../schemas'
import { placeOrder } from '../services/orders'

const NewOrder = Type.Object({
  itemId: Type.Integer({ minimum: 1 }),
  quantity: Type.Integer({ minimum: 1, maximum: 1000 })
}, { additionalProperties: false })

const PlacedOrder = Type.Object({ ...Order.properties, remainingStock: Type.Integer() })

const ListQuery = Type.Object({
  itemId: Type.Optional(Type.Integer({ minimum: 1 })),
  limit: Type.Integer({ minimum: 1, maximum: 100, default: 20 })
}, { additionalProperties: false })

const orderRoutes: FastifyPluginAsyncTypebox = async function orderRoutes (app) {
  app.post('/orders', {
    config: { db: { transaction: true } },
    schema: { body: NewOrder, response: { 201: PlacedOrder, 404: ErrorReply, 409: ErrorReply } }
  }, async (request, reply) => {
    const { itemId, quantity } = request.body
    const outcome = await placeOrder(app.kysely, itemId, quantity)
    if (!outcome.ok) {
      if (outcome.reason === 'no-such-item') throw app.httpErrors.notFound(`Item ${itemId} not found`)
      throw app.httpErrors.conflict(`Insufficient stock for item ${itemId}`)
    }
    reply.code(201)
    return { ...outcome.order, createdAt: outcome.order.createdAt.toISOString() }
  })

  app.get('/orders', {
    schema: { querystring: ListQuery, response: { 200: Type.Array(Order) } }
  }, async (request) => {
    const { itemId, limit } = request.query
    let query = app.kysely.selectFrom('orders')
      .select(['id', 'item_id as itemId', 'quantity', 'created_at as createdAt'])
      .orderBy('id')
      .limit(limit)
    if (itemId !== undefined) query = query.where('item_id', '=', itemId)
    const rows = await query.execute()
    return rows.map((r) => ({ ...r, createdAt: r.createdAt.toISOString() }))
  })
}

export default orderRoutes
