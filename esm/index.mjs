// ESM entry: the package is compiled to CommonJS; this makes `import dbSession from` the plugin
// itself (not the CommonJS namespace) and re-exports every named export.
import cjs from '../dist/lib/index.js'

export * from '../dist/lib/index.js'
export default cjs.dbSession
