/**
 * The read-heavy page of the shop, served from a read replica when the app has one
 * (MYSQL_REPLICA_URL): `{ db: { replica: true } }` puts `request.db` on a replica, read-only.
 * With causal reads on, an item created a moment ago by this process is already in the list;
 * with no replica usable (or none configured) the primary serves, still read-only.
 */
import type { FastifyInstance } from 'fastify'
import type { RowDataPacket } from 'mysql2'
import { item } from './common'

export default async function catalogRoutes (app: FastifyInstance): Promise<void> {
  app.get('/catalog', {
    config: { db: { replica: true } },
    schema: { response: { 200: { type: 'array', items: item } } }
  }, async (request) => {
    const [rows] = await request.db.query<RowDataPacket[]>(
      'SELECT id, name, price_cents AS priceCents, stock FROM items WHERE stock > 0 ORDER BY name LIMIT 100')
    return rows
  })
}
