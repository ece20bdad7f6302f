/**
 * The ordering rules, in a module that never sees `request`. It takes the app's Kysely instance;
 * called from a request, its queries run on that request's session, so they are part of the
 * route's transaction: committed before the response, rolled back when the route throws.
 */
import type { Kysely } from 'kysely'
import type { Database } from '../tables'

export interface PlacedOrder {
  id: number
  itemId: number
  quantity: number
  createdAt: Date
  remainingStock: number
}

export type OrderOutcome = { ok: true, order: PlacedOrder } | { ok: false, reason: 'no-such-item' | 'insufficient-stock' }

export async function placeOrder (db: Kysely<Database>, itemId: number, quantity: number): Promise<OrderOutcome> {
  // Lock the item row first: concurrent orders for the same item queue here instead of
  // deadlocking on the foreign-key check of the insert below.
  const item = await db.selectFrom('items').select('id').where('id', '=', itemId).forUpdate().executeTakeFirst()
  if (item === undefined) return { ok: false, reason: 'no-such-item' }

  const inserted = await db.insertInto('orders').values({ item_id: itemId, quantity }).executeTakeFirstOrThrow()
  const taken = await db.updateTable('items')
    .set((eb) => ({ stock: eb('stock', '-', quantity) }))
    .where('id', '=', itemId)
    .where('stock', '>=', quantity)
    .executeTakeFirst()
  // The order row inserted above is undone with the rest of the transaction when the caller throws.
  if (taken.numUpdatedRows === 0n) return { ok: false, reason: 'insufficient-stock' }

  const order = await db.selectFrom('orders as o')
    .innerJoin('items as i', 'i.id', 'o.item_id')
    .select(['o.id', 'o.item_id as itemId', 'o.quantity', 'o.created_at as createdAt', 'i.stock as remainingStock'])
    .where('o.id', '=', Number(inserted.insertId))
    .executeTakeFirstOrThrow()
  return { ok: true, order }
}
