/** Creates the tables on start when missing (unless `createSchema: false`), before listening. */
import fp from 'fastify-plugin'
import { ensureSchema } from '../schema'

export default fp(async function schemaPlugin (app, opts: { createSchema?: boolean }) {
  if (opts.createSchema === false) return
  // onReady: after every plugin loaded, before the server listens (or the first inject).
  app.addHook('onReady', async function createTables () {
    await ensureSchema(app.db)
  })
}, { name: 'schema', dependencies: ['fastify-db-session'] })
