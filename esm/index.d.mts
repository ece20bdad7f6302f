import { dbSession } from '../dist/lib/index.js'

export * from '../dist/lib/index.js'
export default dbSession
