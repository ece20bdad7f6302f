/**
 * A pool's name for metrics and channel messages (`db.client.connection.pool.name`). Kept beside
 * the pool rather than in it so the pool's options stay SQLAlchemy's; the plugin names the pools it
 * builds, `instrumentPool(pool, { poolName })` names standalone ones. A default name comes from the
 * connection's `host:port/database`, never from its user or password.
 */
import type { Pool } from '../pool/base-pool'

const names = new WeakMap<Pool, string>()

export function setPoolName (pool: Pool, name: string): void {
  names.set(pool, name)
}

export function poolNameOf (pool: Pool): string | undefined {
  return names.get(pool)
}

interface Endpoint { uri?: unknown, host?: unknown, port?: unknown, database?: unknown, socketPath?: unknown }

/**
 * `host:port/database` of a connection URL or mysql2 options (the first node of a list); undefined
 * when there is nothing to name it by.
 */
export function defaultPoolName (connection: unknown): string | undefined {
  if (Array.isArray(connection)) return connection.length === 0 ? undefined : defaultPoolName(connection[0])
  if (typeof connection === 'string') return nameFromUrl(connection)
  if (connection === null || typeof connection !== 'object') return undefined
  const c = connection as Endpoint
  if (typeof c.uri === 'string') return nameFromUrl(c.uri)
  const database = typeof c.database === 'string' ? c.database : ''
  if (typeof c.socketPath === 'string') return `${c.socketPath}/${database}`
  const host = typeof c.host === 'string' ? c.host : 'localhost'
  const port = typeof c.port === 'number' || typeof c.port === 'string' ? String(c.port) : '3306'
  return `${host}:${port}/${database}`
}

function nameFromUrl (url: string): string | undefined {
  let parsed: URL
  try {
    parsed = new URL(url)
  } catch {
    return undefined
  }
  // URL.host drops a default port; the protocol has none, so `port` is whatever was written.
  const port = parsed.port === '' ? '3306' : parsed.port
  return `${parsed.hostname}:${port}${decodeURIComponent(parsed.pathname === '' ? '/' : parsed.pathname)}`
}
