/**
 * The integrations as a user gets them: `fastify-db-session/kysely` and `/drizzle` resolve from
 * CommonJS and ESM (through package.json `exports`, on the built output), with types in both
 * module systems; the core never loads either peer; a missing peer is a clear error.
 */
import t from 'tap'
import { execFile } from 'node:child_process'
import { existsSync, mkdirSync, rmSync, writeFileSync } from 'node:fs'
import { join, resolve } from 'node:path'
import { promisify } from 'node:util'
import { MissingPeerError } from '../../lib'
import { loadPeer } from '../../lib/integrations/peer'

const run = promisify(execFile)
const root = resolve(__dirname, '../..')

/** `npm test` builds first; a lone run of this file builds here. */
async function ensureBuilt (): Promise<void> {
  if (existsSync(join(root, 'dist/lib/kysely.js')) && existsSync(join(root, 'dist/lib/drizzle.js'))) return
  await run(process.execPath, [join(root, 'node_modules/typescript/bin/tsc'), '-p', 'tsconfig.build.json'], { cwd: root })
}

async function node (args: string[]): Promise<{ stdout: string, stderr: string, code: number }> {
  try {
    const { stdout, stderr } = await run(process.execPath, args, { cwd: root })
    return { stdout, stderr, code: 0 }
  } catch (err) {
    const e = err as { stdout: string, stderr: string, code: number }
    return { stdout: e.stdout, stderr: e.stderr, code: e.code }
  }
}

// Makes `require('kysely')` / `require('drizzle-orm…')` fail as if the peers were not installed.
const HIDE_PEERS = `
const Module = require('node:module')
const resolve = Module._resolveFilename
Module._resolveFilename = function (request, ...rest) {
  if (/^(kysely|drizzle-orm)(\\/|$)/.test(request)) {
    const err = new Error("Cannot find module '" + request + "'")
    err.code = 'MODULE_NOT_FOUND'
    throw err
  }
  return resolve.call(this, request, ...rest)
}`

t.before(ensureBuilt)

t.test('the core never loads kysely or drizzle-orm', async (t) => {
  const cjs = await node(['-e', "require('fastify-db-session'); console.log(JSON.stringify(Object.keys(require.cache).filter((k) => /kysely|drizzle/.test(k))))"])
  t.equal(cjs.code, 0, cjs.stderr)
  t.same(JSON.parse(cjs.stdout), [], 'nothing of them in require.cache')
  const dir = join(root, '.tmp', 'packaging')
  mkdirSync(dir, { recursive: true })
  t.teardown(() => rmSync(dir, { recursive: true, force: true }))
  writeFileSync(join(dir, 'hide-peers.cjs'), HIDE_PEERS)
  const hidden = await node(['--require', join(dir, 'hide-peers.cjs'), '--input-type=module', '-e',
    "const m = await import('fastify-db-session'); console.log(typeof m.default, typeof m.QueuePool)"])
  t.equal(hidden.code, 0, hidden.stderr)
  t.equal(hidden.stdout.trim(), 'function function', 'the ESM entry works with both peers missing')
})

t.test('the subpaths resolve from CommonJS and ESM', async (t) => {
  const cjs = await node(['-e', "const { kysely } = require('fastify-db-session/kysely'); const { drizzle } = require('fastify-db-session/drizzle'); console.log(typeof kysely, typeof drizzle)"])
  t.equal(cjs.code, 0, cjs.stderr)
  t.equal(cjs.stdout.trim(), 'function function')
  const esm = await node(['--input-type=module', '-e', "import { kysely } from 'fastify-db-session/kysely'; import { drizzle } from 'fastify-db-session/drizzle'; console.log(typeof kysely, typeof drizzle)"])
  t.equal(esm.code, 0, esm.stderr)
  t.equal(esm.stdout.trim(), 'function function')
})

t.test('a missing peer is a clear FST_DB_MISSING_PEER error naming the package to install', async (t) => {
  const dir = join(root, '.tmp', 'packaging-missing')
  mkdirSync(dir, { recursive: true })
  t.teardown(() => rmSync(dir, { recursive: true, force: true }))
  writeFileSync(join(dir, 'hide-peers.cjs'), HIDE_PEERS)
  for (const [entry, pkg] of [['kysely', 'kysely'], ['drizzle', 'drizzle-orm']]) {
    const res = await node(['--require', join(dir, 'hide-peers.cjs'), '-e',
      `try { require('fastify-db-session/${entry}') } catch (err) { console.log(JSON.stringify({ code: err.code, message: err.message })) }`])
    t.equal(res.code, 0, res.stderr)
    const err = JSON.parse(res.stdout) as { code: string, message: string }
    t.equal(err.code, 'FST_DB_MISSING_PEER', entry)
    t.equal(err.message, `fastify-db-session/${entry} needs the optional peer dependency "${pkg}", which is not installed: npm install ${pkg}`)
  }
  // In-process: only the peer itself missing counts; any other load error is passed through.
  t.throws(() => loadPeer('fdbs-no-such-peer', 'x'), MissingPeerError)
  t.throws(() => loadPeer('@fdbs/no-such-peer/sub', 'x'), { name: 'MissingPeerError', peer: '@fdbs/no-such-peer' } as never)
  writeFileSync(join(dir, 'needs-missing.cjs'), "require('fdbs-missing-dependency-of-the-peer')")
  t.throws(() => loadPeer(join(dir, 'needs-missing.cjs'), 'x'), { code: 'MODULE_NOT_FOUND' }, 'a module missing inside the peer stays Node\'s error')
  writeFileSync(join(dir, 'throws.cjs'), "throw new Error('inside the peer')")
  t.throws(() => loadPeer(join(dir, 'throws.cjs'), 'x'), { message: 'inside the peer' })
})

t.test('types of both subpaths, from a CommonJS and an ESM TypeScript file', async (t) => {
  const dir = join(root, '.tmp', 'packaging-types')
  mkdirSync(dir, { recursive: true })
  t.teardown(() => rmSync(dir, { recursive: true, force: true }))
  const body = `
import { kysely } from 'fastify-db-session/kysely'
import { drizzle } from 'fastify-db-session/drizzle'
import type { Kysely } from 'kysely'
import type { DbFacade } from 'fastify-db-session'
interface DB { people: { id: number, name: string } }
declare const facade: DbFacade
export const k: Kysely<DB> = kysely<DB>(facade)
export const q = k.selectFrom('people').select('name')
export const d = drizzle(facade)
// @ts-expect-error a table that is not in DB
k.selectFrom('nope')
`
  writeFileSync(join(dir, 'use.cts'), body)
  writeFileSync(join(dir, 'use.mts'), body)
  writeFileSync(join(dir, 'tsconfig.json'), JSON.stringify({
    compilerOptions: { module: 'nodenext', moduleResolution: 'nodenext', target: 'es2022', strict: true, noEmit: true, skipLibCheck: true, types: ['node'] },
    files: ['use.cts', 'use.mts']
  }))
  const res = await node([join(root, 'node_modules/typescript/bin/tsc'), '-p', join(dir, 'tsconfig.json')])
  t.equal(res.code, 0, res.stdout + res.stderr)
})
