export * from '../dist/lib/drizzle.js'
