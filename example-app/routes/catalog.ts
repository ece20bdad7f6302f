/**
 * The read-heavy page of the shop, served from a read replica when the app has one
 * (MYSQL_REPLICA_URL): `{ db: { replica: true } }` puts `request.db` on a replica, read-only.
 * With causal reads on, an item created a moment ago by this process is already in the list;
 * with no replica usable (or none configured) the primary serves, still read-only.
 */
import { Type, type FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import type { RowDataPacket } from 'mysql2'
import { Item, type ItemData } from '../schemas'

const catalogRoutes: FastifyPluginAsyncTypebox = async function catalogRoutes (app) {
  app.get('/catalog', {
    config: { db: { replica: true } },
    schema: { response: { 200: Type.Array(Item) } }
  }, async (request) => {
    const [rows] = await request.db.query<Array<RowDataPacket & ItemData>>(
      'SELECT id, name, price_cents AS priceCents, stock FROM items WHERE stock > 0 ORDER BY name LIMIT 100')
    return rows
  })
}

export default catalogRoutes
