#!/usr/bin/env node
// The package as users install it: `npm pack`, install the tarball into fresh projects (ESM,
// CommonJS, strict TypeScript NodeNext as ESM and as CommonJS) in a temp dir, and run there the
// README's quick start and standalone-pool examples (taken from README.md itself) against the real
// database, plus every subpath in package.json `exports`. A file missing from `files`, a broken
// `exports` map or a type that does not resolve fails here.
//
// Extending: a new subpath in `exports` (e.g. `./kysely`, `./drizzle`) is picked up by itself
// (imported from ESM and CommonJS, type-checked from TypeScript); its optional peer dependencies
// are installed from package.json `peerDependencies`. A further example goes in EXAMPLES below.
//
// Usage: MYSQL_URL=mysql://root@127.0.0.1:3306/test node test/package/check.mjs [--keep]
// Prints `# package check: N passed, M failed`; exit code 1 on any failure.
import { spawnSync } from 'node:child_process'
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'

const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..')
const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8'))
const baseUrl = process.env.MYSQL_URL || 'mysql://root@127.0.0.1:3306/test'
const database = `fdbs_pack_check_${process.pid}`
const dbUrl = withDatabase(baseUrl, database)
const work = mkdtempSync(join(tmpdir(), 'fdbs-pack-'))
const keep = process.argv.includes('--keep')
let passed = 0
let failed = 0

function withDatabase (url, db) {
  const u = new URL(url)
  u.pathname = `/${db}`
  return u.toString()
}

function run (cmd, args, cwd, env = {}) {
  const r = spawnSync(cmd, args, { cwd, env: { ...process.env, DB_URL: dbUrl, ...env }, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], timeout: 300_000 })
  const output = `${r.stdout ?? ''}${r.stderr ?? ''}${r.error ? String(r.error) : ''}`
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')} (in ${cwd}) exited ${r.status ?? r.signal}:\n${output.slice(-4000)}`)
  return output
}

function check (name, fn) {
  try {
    fn()
    passed++
    console.log(`ok - ${name}`)
  } catch (err) {
    failed++
    console.log(`not ok - ${name}\n${String(err.message ?? err).replace(/^/gm, '  # ')}`)
  }
}

/** The first ```js block after the README heading `heading`. */
function readmeBlock (heading) {
  const readme = readFileSync(join(root, 'README.md'), 'utf8')
  const at = readme.indexOf(`\n${heading}\n`)
  if (at < 0) throw new Error(`README has no "${heading}" section`)
  const m = /```js\n([\s\S]*?)```/.exec(readme.slice(at))
  if (m === null) throw new Error(`no js block under "${heading}"`)
  return m[1]
}

/** The ESM example as CommonJS, written the way the README says (`const { dbSession } = require(...)`). */
function toCommonJs (code) {
  const body = code
    .replace(/^import (\w+) from 'fastify-db-session'$/gm, "const { dbSession: $1 } = require('fastify-db-session')")
    .replace(/^import \{ ([^}]+) \} from '([^']+)'$/gm, "const { $1 } = require('$2')")
    .replace(/^import (\w+) from '([^']+)'$/gm, "const $1 = require('$2')")
  if (/^import /m.test(body)) throw new Error(`an import the CommonJS rewrite does not handle:\n${body}`)
  return `(async () => {\n${body}\n})().catch((err) => { console.error(err); process.exitCode = 1 })\n`
}

// The README's examples, with the database URL and a client for the server it starts.
const EXAMPLES = [
  {
    name: 'README quick start',
    heading: '## Quick start',
    adapt: (code) => code
      .replace(/'mysql:\/\/root@127\.0\.0\.1:3306\/test'/g, 'process.env.DB_URL')
      .replace(/Fastify\(\{ logger: true \}\)/, "Fastify({ logger: { level: 'warn' } })")
      .replace(/^await app\.listen\(\{ port: 3000 \}\)$/m, `await app.listen({ port: 0, host: '127.0.0.1' })
const base = 'http://127.0.0.1:' + app.server.address().port
const found = await fetch(base + '/items/1')
const item = await found.json()
if (found.status !== 200 || item.id !== 1) throw new Error('GET /items/1 answered ' + found.status)
const missing = await fetch(base + '/items/999')
if (missing.status !== 404) throw new Error('GET /items/999 answered ' + missing.status)
await app.close()
console.log('quick start ok')`),
    expect: 'quick start ok'
  },
  {
    name: 'README standalone pool',
    heading: '## The pool on its own',
    adapt: (code) => `const url = process.env.DB_URL\n${code}`,
    // The status line the README promises, printed by the example itself.
    expect: (code) => (/\/\/ (Pool size: .*)$/m.exec(code) ?? [])[1]
  }
]

function writeJson (file, value) {
  writeFileSync(file, JSON.stringify(value, null, 2) + '\n')
}

function dbScript (sql) {
  return `const mysql = require('mysql2/promise')
const url = new URL(process.env.DB_URL); const db = url.pathname.slice(1); url.pathname = '/'
mysql.createConnection(url.toString()).then(async (c) => { for (const s of ${JSON.stringify(sql)}) await c.query(s.replace('$DB', db)); await c.end() })
  .catch((err) => { console.error(err.message); process.exitCode = 1 })\n`
}

const subpaths = Object.keys(pkg.exports).filter((k) => k !== './package.json').map((k) => k === '.' ? pkg.name : `${pkg.name}/${k.slice(2)}`)
const dev = pkg.devDependencies
let installed = false

check('npm pack and install the tarball', () => {
  const out = run('npm', ['pack', '--pack-destination', work, '--json', '--silent'], root)
  const tarball = join(work, JSON.parse(out.slice(out.indexOf('['))).at(-1).filename)
  writeJson(join(work, 'package.json'), { name: 'pack-check', private: true })
  writeFileSync(join(work, '.npmrc'), 'legacy-peer-deps=true\n')
  // What a user adds next to the plugin, and the optional peers the subpath entry points need,
  // at the versions this repository tests with (so the npm cache usually has them).
  const extra = ['fastify', '@fastify/sensible', 'mysql2', ...Object.keys(pkg.peerDependencies ?? {})]
    .map((name) => `${name}@${pkg.dependencies[name] ?? dev[name]}`)
  run('npm', ['install', '--no-audit', '--no-fund', '--prefer-offline', tarball, ...extra, `typescript@${dev.typescript}`, `@types/node@${dev['@types/node']}`], work)
  installed = true
})

if (installed) {
  check('test database set up', () => {
    writeFileSync(join(work, 'db.cjs'), dbScript([
      'CREATE DATABASE IF NOT EXISTS $DB', 'CREATE TABLE IF NOT EXISTS $DB.items (id INT PRIMARY KEY, name TEXT)',
      "INSERT IGNORE INTO $DB.items VALUES (1, 'bolt')"
    ]))
    run('node', ['db.cjs'], work)
  })

  for (const kind of ['esm', 'cjs']) {
    const dir = join(work, kind)
    mkdirSync(dir)
    writeJson(join(dir, 'package.json'), { name: `pack-check-${kind}`, private: true, type: kind === 'esm' ? 'module' : 'commonjs' })
    for (const example of EXAMPLES) {
      check(`${kind}: ${example.name}`, () => {
        const code = example.adapt(readmeBlock(example.heading))
        const file = join(dir, `${example.heading.replace(/\W+/g, '-').replace(/^-|-$/g, '').toLowerCase()}.js`)
        writeFileSync(file, kind === 'esm' ? code : toCommonJs(code))
        const out = run('node', [file], dir)
        const expected = typeof example.expect === 'function' ? example.expect(readmeBlock(example.heading)) : example.expect
        if (!expected || !out.includes(expected)) throw new Error(`expected output containing ${JSON.stringify(expected)}, got:\n${out}`)
      })
    }
    check(`${kind}: every exports subpath loads (${subpaths.join(', ')})`, () => {
      const load = kind === 'esm'
        ? subpaths.map((s) => `await import(${JSON.stringify(s)})`).join('\n')
        : subpaths.map((s) => `require(${JSON.stringify(s)})`).join('\n')
      writeFileSync(join(dir, 'subpaths.js'), `${load}\nconsole.log('subpaths ok')\n`)
      run('node', ['subpaths.js'], dir)
    })
  }
  check('cjs: require() gives the plugin as dbSession and default', () => {
    const dir = join(work, 'cjs')
    writeFileSync(join(dir, 'shape.js'), `const m = require('fastify-db-session')
if (typeof m.dbSession !== 'function' || m.default !== m.dbSession || typeof m.QueuePool !== 'function') throw new Error('exports: ' + Object.keys(m))\n`)
    run('node', ['shape.js'], dir)
  })

  for (const kind of ['esm', 'cjs']) {
    check(`typescript strict NodeNext (${kind}): typed app compiles and runs`, () => {
      const dir = join(work, `ts-${kind}`)
      mkdirSync(dir)
      writeJson(join(dir, 'package.json'), { name: `pack-check-ts-${kind}`, private: true, type: kind === 'esm' ? 'module' : 'commonjs' })
      // Our .d.ts files are checked in full (skipLibCheck off) through the typed app, which uses
      // the core only. The subpaths pull in the optional peers' own declarations, and drizzle-orm's
      // do not pass a full check under TypeScript 6 (its sqlite-core): those compile with
      // skipLibCheck, as nearly every project does, which still proves our subpath types resolve.
      const compilerOptions = { target: 'ES2022', module: 'NodeNext', moduleResolution: 'NodeNext', strict: true, outDir: 'out', types: ['node'] }
      writeJson(join(dir, 'tsconfig.json'), { compilerOptions: { ...compilerOptions, skipLibCheck: false }, files: ['app.ts'] })
      writeJson(join(dir, 'tsconfig.subpaths.json'), { compilerOptions: { ...compilerOptions, skipLibCheck: true }, files: ['subpaths.ts'] })
      writeFileSync(join(dir, 'app.ts'), readFileSync(join(root, 'test/package/fixtures/typed-app.ts'), 'utf8'))
      writeFileSync(join(dir, 'subpaths.ts'), subpaths.map((s, i) => `import * as m${i} from ${JSON.stringify(s)}`).join('\n') +
        `\nexport const loaded = [${subpaths.map((_s, i) => `m${i}`).join(', ')}]\n`)
      run('node', [join(work, 'node_modules/typescript/bin/tsc'), '-p', '.'], dir)
      run('node', [join(work, 'node_modules/typescript/bin/tsc'), '-p', 'tsconfig.subpaths.json'], dir)
      const out = run('node', ['out/app.js'], dir)
      if (!out.includes('typed app ok')) throw new Error(out)
    })
  }

  check('test database removed', () => {
    writeFileSync(join(work, 'drop.cjs'), dbScript(['DROP DATABASE IF EXISTS $DB']))
    run('node', ['drop.cjs'], work)
  })
}

if (keep) console.log(`# kept ${work}`)
else rmSync(work, { recursive: true, force: true })
console.log(`# package check: ${passed} passed, ${failed} failed`)
process.exitCode = failed > 0 ? 1 : 0
