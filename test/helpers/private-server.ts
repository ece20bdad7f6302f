/**
 * A throwaway MariaDB for tests that stop, kill or restart the server: its own temp datadir,
 * free port on 127.0.0.1, socket and pid file. Always `await server.remove()` in t.teardown.
 */
import { spawn, execFile, type ChildProcess } from 'node:child_process'
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { createServer } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { promisify } from 'node:util'
import mysql from 'mysql2/promise'

const run = promisify(execFile)

export interface PrivateServer {
  url: string
  port: number
  dir: string
  /** Graceful shutdown; resolves when the process has exited. */
  stop(): Promise<void>
  /** Starts again on the same datadir and port; resolves when it answers. */
  start(): Promise<void>
  /** SIGKILL, no waiting for anything but the process exit. */
  kill(): Promise<void>
  /** stop() and delete the datadir. */
  remove(): Promise<void>
}

/** What a test may change about the server it starts (replication, Galera). */
export interface PrivateServerOptions {
  /** Extra mariadbd options, after the defaults (a later option wins). */
  args?: string[] | ((port: number) => string[])
  /** Run as the `mysql` system user (Galera's rsync state transfer fails when run as root). */
  asMysqlUser?: boolean
  /** How long start() waits for the server to answer (default 30 s). */
  readyTimeout?: number
}

const CANDIDATES = {
  mariadbd: ['/usr/sbin/mariadbd', '/usr/sbin/mysqld', '/usr/bin/mariadbd'],
  install: ['/usr/bin/mariadb-install-db', '/usr/bin/mysql_install_db', '/usr/sbin/mariadb-install-db']
}

export function findBinary (kind: keyof typeof CANDIDATES): string | undefined {
  return CANDIDATES[kind].find((p) => existsSync(p))
}

/** Every child we started, so process exit never leaves a server behind. */
const children = new Set<ChildProcess>()
let exitHookInstalled = false
function trackChild (child: ChildProcess): void {
  children.add(child)
  child.once('exit', () => children.delete(child))
  if (!exitHookInstalled) {
    exitHookInstalled = true
    process.once('exit', () => {
      for (const c of children) {
        try { c.kill('SIGKILL') } catch {}
      }
    })
  }
}

/**
 * A port free now, for a server started next. Not one the kernel picked (port 0): those come from
 * the ephemeral range, which every outgoing connection also draws its local port from, so between
 * this check and the server's bind a client socket of a parallel test (or a Galera joiner's state
 * transfer) could take it: "Address already in use". Below that range only servers bind.
 */
export async function freePort (): Promise<number> {
  const [low, high] = belowEphemeralRange()
  for (let attempt = 0; attempt < 50; attempt++) {
    const port = low + Math.floor(Math.random() * (high - low))
    if (await canBind(port)) return port
  }
  throw new Error(`No free port found in ${low}-${high}`)
}

function belowEphemeralRange (): [number, number] {
  let ephemeralLow = 32768
  try {
    ephemeralLow = Number(readFileSync('/proc/sys/net/ipv4/ip_local_port_range', 'utf8').trim().split(/\s+/)[0]) || ephemeralLow
  } catch {}
  return ephemeralLow > 12000 ? [10000, ephemeralLow] : [ephemeralLow, 65535]
}

function canBind (port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const srv = createServer()
    srv.unref()
    srv.once('error', () => { resolve(false) })
    srv.listen(port, '127.0.0.1', () => { srv.close(() => { resolve(true) }) })
  })
}

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms))

export async function startPrivateServer (options: PrivateServerOptions = {}): Promise<PrivateServer> {
  const mariadbd = findBinary('mariadbd')
  const install = findBinary('install')
  if (mariadbd === undefined || install === undefined) {
    throw new Error('A private MariaDB needs mariadbd and mariadb-install-db: run `apt-get install mariadb-server`, or set MYSQL_URL to a server you own')
  }
  const dir = mkdtempSync(join(tmpdir(), 'fdbs-mariadb-'))
  const datadir = join(dir, 'data')
  const asRoot = typeof process.getuid === 'function' && process.getuid() === 0
  const userArgs = options.asMysqlUser === true ? ['--user=mysql'] : asRoot ? ['--user=root'] : []
  if (options.asMysqlUser === true) await run('chown', ['-R', 'mysql:mysql', dir])
  try {
    await run(install, [
      '--no-defaults', '--auth-root-authentication-method=normal', '--skip-test-db',
      // A temp dir of its own: parallel bootstraps sharing /tmp collide on their temporary tables.
      '--skip-name-resolve', `--datadir=${datadir}`, `--tmpdir=${dir}`, ...userArgs
    ], { timeout: 60_000 })
  } catch (err) {
    rmSync(dir, { recursive: true, force: true })
    throw new Error(`mariadb-install-db failed: ${(err as Error).message}`)
  }
  const port = await freePort()
  const extraArgs = typeof options.args === 'function' ? options.args(port) : options.args ?? []
  const readyTimeout = options.readyTimeout ?? 30_000
  const url = `mysql://root@127.0.0.1:${port}/mysql`
  let child: ChildProcess | undefined
  let lastStderr = ''

  async function waitReady (proc: ChildProcess): Promise<void> {
    const deadline = Date.now() + readyTimeout
    while (Date.now() < deadline) {
      if (proc.exitCode !== null || proc.signalCode !== null) {
        throw new Error(`mariadbd exited while starting (code ${proc.exitCode}): ${lastStderr.slice(-2000)}`)
      }
      try {
        const c = await mysql.createConnection({ host: '127.0.0.1', port, user: 'root', connectTimeout: 1000 })
        await c.query('CREATE DATABASE IF NOT EXISTS test')
        await c.end()
        return
      } catch {
        await sleep(100)
      }
    }
    throw new Error(`mariadbd did not answer on port ${port} within ${readyTimeout} ms: ${lastStderr.slice(-2000)}`)
  }

  function waitExit (proc: ChildProcess, ms: number): Promise<boolean> {
    if (proc.exitCode !== null || proc.signalCode !== null) return Promise.resolve(true)
    return new Promise((resolve) => {
      const timer = setTimeout(() => resolve(false), ms)
      proc.once('exit', () => { clearTimeout(timer); resolve(true) })
    })
  }

  async function start (): Promise<void> {
    if (child !== undefined && child.exitCode === null && child.signalCode === null) return
    lastStderr = ''
    const proc = spawn(mariadbd as string, [
      '--no-defaults', `--datadir=${datadir}`, `--port=${port}`, '--bind-address=127.0.0.1',
      `--socket=${join(dir, 'mysqld.sock')}`, `--pid-file=${join(dir, 'mysqld.pid')}`,
      '--skip-name-resolve', '--skip-log-bin', '--innodb-buffer-pool-size=16M',
      '--innodb-log-file-size=8M', '--innodb-fast-shutdown=2', '--max-connections=200',
      '--skip-innodb-use-native-aio', ...userArgs, ...extraArgs
    ], { stdio: ['ignore', 'ignore', 'pipe'] })
    proc.stderr?.on('data', (d: Buffer) => { lastStderr = (lastStderr + d.toString()).slice(-4000) })
    trackChild(proc)
    // Never keeps the test process alive by itself: the exit hook kills it.
    proc.unref()
    ;(proc.stderr as unknown as { unref?: () => void } | null)?.unref?.()
    child = proc
    try {
      await waitReady(proc)
    } catch (err) {
      proc.kill('SIGKILL')
      await waitExit(proc, 5000)
      throw err
    }
  }

  async function stop (): Promise<void> {
    const proc = child
    if (proc === undefined) return
    if (proc.exitCode === null && proc.signalCode === null) {
      proc.kill('SIGTERM')
      if (!await waitExit(proc, 20_000)) {
        proc.kill('SIGKILL')
        await waitExit(proc, 5000)
      }
    }
    child = undefined
  }

  async function kill (): Promise<void> {
    const proc = child
    if (proc === undefined) return
    if (proc.exitCode === null && proc.signalCode === null) {
      proc.kill('SIGKILL')
      await waitExit(proc, 5000)
    }
    child = undefined
  }

  async function remove (): Promise<void> {
    await stop()
    rmSync(dir, { recursive: true, force: true })
  }

  try {
    await start()
  } catch (err) {
    rmSync(dir, { recursive: true, force: true })
    throw err
  }
  return { url: url.replace(/\/mysql$/, '/test'), port, dir, stop, start, kill, remove }
}
