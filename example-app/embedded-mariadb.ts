/**
 * A private MariaDB for `npm start` on a machine with `mariadbd` installed but no server running:
 * its data lives in example-app/.data/ (kept between runs), it listens on a free port of
 * 127.0.0.1 only, and stop() shuts it down cleanly.
 */
import { execFile, spawn, type ChildProcess } from 'node:child_process'
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { createServer } from 'node:net'
import { join } from 'node:path'
import { promisify } from 'node:util'
import mysql from 'mysql2/promise'

const run = promisify(execFile)
const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms))

const BINARIES = {
  mariadbd: ['/usr/sbin/mariadbd', '/usr/sbin/mysqld', '/usr/bin/mariadbd', '/usr/local/bin/mariadbd'],
  install: ['/usr/bin/mariadb-install-db', '/usr/bin/mysql_install_db', '/usr/sbin/mariadb-install-db', '/usr/local/bin/mariadb-install-db']
}

function findBinary (kind: keyof typeof BINARIES): string | undefined {
  return BINARIES[kind].find((p) => existsSync(p))
}

/** mariadbd and mariadb-install-db are both installed. */
export function canStartEmbedded (): boolean {
  return findBinary('mariadbd') !== undefined && findBinary('install') !== undefined
}

export interface EmbeddedMariaDb {
  /** `mysql://root@127.0.0.1:<port>/test` */
  url: string
  port: number
  dataDir: string
  /** Graceful shutdown (SIGTERM, then SIGKILL after 20 s); resolves when the process has exited. */
  stop(): Promise<void>
}

function freePort (): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer()
    srv.on('error', reject)
    srv.listen(0, '127.0.0.1', () => {
      const addr = srv.address()
      const port = typeof addr === 'object' && addr !== null ? addr.port : 0
      srv.close(() => resolve(port))
    })
  })
}

function alive (pid: number): boolean {
  try {
    process.kill(pid, 0)
    return true
  } catch {
    return false
  }
}

function waitExit (proc: ChildProcess, ms: number): Promise<boolean> {
  if (proc.exitCode !== null || proc.signalCode !== null) return Promise.resolve(true)
  return new Promise((resolve) => {
    const timer = setTimeout(() => resolve(false), ms)
    proc.once('exit', () => { clearTimeout(timer); resolve(true) })
  })
}

/** Starts (initialising on first use) a MariaDB whose files live under `dir`. */
export async function startEmbeddedMariaDb (dir: string): Promise<EmbeddedMariaDb> {
  const mariadbd = findBinary('mariadbd')
  const install = findBinary('install')
  if (mariadbd === undefined || install === undefined) {
    throw new Error('An embedded MariaDB needs mariadbd and mariadb-install-db (apt-get install mariadb-server)')
  }
  const dataDir = join(dir, 'data')
  const pidFile = join(dir, 'mariadbd.pid')
  mkdirSync(dir, { recursive: true })

  if (existsSync(pidFile)) {
    const pid = Number(readFileSync(pidFile, 'utf8').trim())
    if (Number.isInteger(pid) && pid > 0 && alive(pid)) {
      throw new Error(`A MariaDB (pid ${pid}) left by an earlier run still uses ${dataDir}; stop it (kill ${pid}) and start again`)
    }
    rmSync(pidFile, { force: true })
  }

  const asRoot = typeof process.getuid === 'function' && process.getuid() === 0
  const userArgs = asRoot ? ['--user=root'] : []
  if (!existsSync(join(dataDir, 'mysql'))) {
    rmSync(dataDir, { recursive: true, force: true })
    await run(install, [
      '--no-defaults', '--auth-root-authentication-method=normal', '--skip-test-db',
      '--skip-name-resolve', `--datadir=${dataDir}`, ...userArgs
    ], { timeout: 120_000 })
  }

  const port = await freePort()
  let stderr = ''
  const proc = spawn(mariadbd, [
    '--no-defaults', `--datadir=${dataDir}`, `--port=${port}`, '--bind-address=127.0.0.1',
    `--socket=${join(dir, 'mariadbd.sock')}`, `--pid-file=${pidFile}`,
    '--skip-name-resolve', '--skip-log-bin', '--innodb-buffer-pool-size=32M',
    '--skip-innodb-use-native-aio', ...userArgs
  ], {
    // Its own process group: Ctrl-C reaches the app, which closes its pool and then stops the server.
    detached: true,
    stdio: ['ignore', 'ignore', 'pipe']
  })
  proc.stderr?.on('data', (d: Buffer) => { stderr = (stderr + d.toString()).slice(-4000) })
  // Never outlive the app, even when it exits without calling stop().
  const onExit = (): void => { if (proc.exitCode === null) proc.kill('SIGKILL') }
  process.once('exit', onExit)

  async function stop (): Promise<void> {
    process.removeListener('exit', onExit)
    if (proc.exitCode !== null || proc.signalCode !== null) return
    proc.kill('SIGTERM')
    if (!await waitExit(proc, 20_000)) {
      proc.kill('SIGKILL')
      await waitExit(proc, 5000)
    }
  }

  const deadline = Date.now() + 60_000
  for (;;) {
    if (proc.exitCode !== null || proc.signalCode !== null) {
      process.removeListener('exit', onExit)
      throw new Error(`mariadbd exited while starting (code ${proc.exitCode}): ${stderr.slice(-1500)}`)
    }
    try {
      const c = await mysql.createConnection({ host: '127.0.0.1', port, user: 'root', connectTimeout: 1000 })
      await c.query('CREATE DATABASE IF NOT EXISTS test')
      await c.end()
      break
    } catch (err) {
      if (Date.now() > deadline) {
        await stop()
        throw new Error(`mariadbd did not answer on port ${port} within 60 s: ${(err as Error).message}`)
      }
      await sleep(200)
    }
  }
  writeFileSync(join(dir, 'port'), `${port}\n`)
  return { url: `mysql://root@127.0.0.1:${port}/test`, port, dataDir, stop }
}
