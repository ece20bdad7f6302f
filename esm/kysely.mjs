// ESM entry of fastify-db-session/kysely: the package is compiled to CommonJS; this re-exports it.
export * from '../dist/lib/kysely.js'
