/**
 * The example's tables, created on start when missing. `orders.item_id` references `items.id`, so
 * an item with orders cannot be deleted (the route answers 409) and an order for an unknown item
 * fails its foreign key (the route answers 404).
 */
import type { DbFacade } from '../lib'

export const DDL: readonly string[] = [
  `CREATE TABLE IF NOT EXISTS items (
    id          INT UNSIGNED NOT NULL AUTO_INCREMENT PRIMARY KEY,
    name        VARCHAR(100) NOT NULL,
    price_cents INT UNSIGNED NOT NULL,
    stock       INT UNSIGNED NOT NULL DEFAULT 0,
    UNIQUE KEY items_name (name)
  ) ENGINE=InnoDB`,
  `CREATE TABLE IF NOT EXISTS orders (
    id          INT UNSIGNED NOT NULL AUTO_INCREMENT PRIMARY KEY,
    item_id     INT UNSIGNED NOT NULL,
    quantity    INT UNSIGNED NOT NULL,
    created_at  TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP(3),
    KEY orders_item (item_id),
    CONSTRAINT orders_item_fk FOREIGN KEY (item_id) REFERENCES items (id)
  ) ENGINE=InnoDB`
]

/** Runs the DDL through `app.db` (one-off checkouts outside any request). */
export async function ensureSchema (db: DbFacade): Promise<void> {
  for (const statement of DDL) await db.query(statement)
}

/** A few items for a first `curl /items`, added only when the table is empty (used by server.ts). */
export async function seedSampleItems (db: DbFacade): Promise<void> {
  const samples: Array<[string, number, number]> = [['keyboard', 4900, 12], ['mouse', 1900, 30], ['monitor', 18900, 4]]
  await db.query(
    'INSERT INTO items (name, price_cents, stock) SELECT * FROM (SELECT ? AS n, ? AS p, ? AS s UNION ALL SELECT ?, ?, ? UNION ALL SELECT ?, ?, ?) AS seed ' +
    'WHERE NOT EXISTS (SELECT 1 FROM items)', samples.flat())
}
