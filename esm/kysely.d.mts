export * from '../dist/lib/kysely.js'
