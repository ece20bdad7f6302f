/** JSON schemas shared by the routes. Responses are serialized (and filtered) through them. */

export const idParams = {
  type: 'object',
  required: ['id'],
  properties: { id: { type: 'integer', minimum: 1 } },
  additionalProperties: false
} as const

export interface IdParams { id: number }

export const item = {
  type: 'object',
  required: ['id', 'name', 'priceCents', 'stock'],
  properties: {
    id: { type: 'integer' },
    name: { type: 'string' },
    priceCents: { type: 'integer' },
    stock: { type: 'integer' }
  }
} as const

export interface Item {
  id: number
  name: string
  priceCents: number
  stock: number
}

export const order = {
  type: 'object',
  required: ['id', 'itemId', 'quantity', 'createdAt'],
  properties: {
    id: { type: 'integer' },
    itemId: { type: 'integer' },
    quantity: { type: 'integer' },
    createdAt: { type: 'string', format: 'date-time' }
  }
} as const

/** Fastify's error payload (also what @fastify/sensible's httpErrors produce). */
export const error = {
  type: 'object',
  required: ['statusCode', 'error', 'message'],
  properties: {
    statusCode: { type: 'integer' },
    code: { type: 'string' },
    error: { type: 'string' },
    message: { type: 'string' }
  }
} as const
