/**
 * TypeBox schemas shared by the routes. With the TypeBox type provider they are both the
 * validation/serialization schemas (Fastify compiles them: requests are validated and responses
 * serialized, and filtered, through them) and the handlers' TypeScript types.
 */
import { Type, type Static } from '@fastify/type-provider-typebox'

export const IdParams = Type.Object({ id: Type.Integer({ minimum: 1 }) }, { additionalProperties: false })

export const Item = Type.Object({
  id: Type.Integer(),
  name: Type.String(),
  priceCents: Type.Integer(),
  stock: Type.Integer()
})
export type ItemData = Static<typeof Item>

export const Order = Type.Object({
  id: Type.Integer(),
  itemId: Type.Integer(),
  quantity: Type.Integer(),
  createdAt: Type.String({ format: 'date-time' })
})

/** Fastify's error payload (also what @fastify/sensible's httpErrors produce). */
export const ErrorReply = Type.Object({
  statusCode: Type.Integer(),
  code: Type.Optional(Type.String()),
  error: Type.String(),
  message: Type.String()
})
