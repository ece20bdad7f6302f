/**
 * The database as Kysely sees it: one interface per table (column names as in the DDL of
 * schema.ts). `Generated` columns may be left out of an insert.
 */
import type { Generated } from 'kysely'

export interface ItemsTable {
  id: Generated<number>
  name: string
  price_cents: number
  stock: Generated<number>
}

export interface OrdersTable {
  id: Generated<number>
  item_id: number
  quantity: number
  created_at: Generated<Date>
}

export interface Database {
  items: ItemsTable
  orders: OrdersTable
}
