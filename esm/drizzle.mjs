// ESM entry of fastify-db-session/drizzle: the package is compiled to CommonJS; this re-exports it.
export * from '../dist/lib/drizzle.js'
