/**
 * Small helpers for pool tests against the real database: pools closed in t.teardown, a fake
 * logger that records calls, and the server thread id behind a handle.
 */
import mysql from 'mysql2/promise'
import type { PoolLogger } from '../../lib/pool/logger'
import type { PooledConnection } from '../../lib/pool/pooled-connection'
import type { Creator, Pool } from '../../lib/pool/base-pool'
import type { PoolOptions } from '../../lib/pool/options'
import { adminConnection, databaseUrl } from './db'

interface Teardown { teardown: (fn: () => unknown) => void }

export interface LogCall { level: 'debug' | 'info' | 'warn' | 'error', obj: Record<string, unknown>, msg: string | undefined }
export interface FakeLogger extends PoolLogger { calls: LogCall[], at: (level: LogCall['level']) => LogCall[] }

export function fakeLogger (): FakeLogger {
  const calls: LogCall[] = []
  const rec = (level: LogCall['level']) => (obj: object, msg?: string): void => {
    calls.push({ level, obj: obj as Record<string, unknown>, msg })
  }
  return {
    calls,
    at: (level) => calls.filter((c) => c.level === level),
    debug: rec('debug'),
    info: rec('info'),
    warn: rec('warn'),
    error: rec('error')
  }
}

/** Builds a pool on the real database; closed (with a short closeTimeout) in t.teardown. */
export async function realPool<P extends Pool> (
  t: Teardown,
  Kind: new (creator: Creator, options?: PoolOptions) => P,
  options?: PoolOptions,
  url?: string
): Promise<P> {
  const uri = url ?? await databaseUrl()
  const pool = new Kind(() => mysql.createConnection(uri), { closeTimeout: 200, logger: fakeLogger(), ...options })
  t.teardown(() => pool.close())
  return pool
}

/** A test-side admin connection, ended in t.teardown. */
export async function admin (t: Teardown, url?: string): Promise<mysql.Connection> {
  const conn = await adminConnection(url)
  conn.on('error', () => {})
  t.teardown(() => conn.end().catch(() => conn.destroy()))
  return conn
}

/** The server thread id of a checked-out handle (without marking it dirty). */
export function threadOf (handle: PooledConnection): number {
  const conn = handle.record?.connection
  if (conn == null) throw new Error('handle has no connection')
  return conn.threadId
}

export const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms))

/** Waits until `check()` is true, polling; fails after `ms`. */
export async function until (check: () => boolean | Promise<boolean>, ms = 5000, what = 'condition'): Promise<void> {
  const deadline = Date.now() + ms
  while (!await check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`)
    await sleep(10)
  }
}
