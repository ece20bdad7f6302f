/**
 * Where tests find a real MariaDB/MySQL, plus small test-side checks. Never skips silently:
 * MYSQL_URL, else root@127.0.0.1:3306/test, else a private throwaway server, else a clear error.
 */
import mysql from 'mysql2/promise'
import { findBinary, startPrivateServer, type PrivateServer } from './private-server'

export { startPrivateServer, type PrivateServer }

export const DEFAULT_URL = 'mysql://root@127.0.0.1:3306/test'

let cached: Promise<string> | undefined
let privateServer: PrivateServer | undefined

async function reachable (url: string): Promise<boolean> {
  try {
    const c = await mysql.createConnection({ uri: url, connectTimeout: 2000 })
    await c.query('SELECT 1')
    await c.end()
    return true
  } catch {
    return false
  }
}

async function resolveUrl (): Promise<string> {
  const env = process.env.MYSQL_URL
  if (env !== undefined && env !== '') return env
  if (await reachable(DEFAULT_URL)) return DEFAULT_URL
  if (findBinary('mariadbd') !== undefined && findBinary('install') !== undefined) {
    privateServer = await startPrivateServer()
    // Not awaited on exit: the exit hook in private-server SIGKILLs it; remove the dir best-effort.
    process.once('beforeExit', () => { privateServer?.remove().catch(() => {}) })
    return privateServer.url
  }
  throw new Error(`No MySQL/MariaDB reachable at ${DEFAULT_URL} and mariadbd is not installed: ` +
    'run `apt-get install mariadb-server` (and start it), or set MYSQL_URL=mysql://user:password@host:port/database')
}

/** The URL of a real database for this test process (cached). */
export function databaseUrl (): Promise<string> {
  cached ??= resolveUrl()
  return cached
}

/** A plain mysql2/promise connection for test-side checks; `t.teardown(() => admin.end())`. */
export async function adminConnection (url?: string): Promise<mysql.Connection> {
  return mysql.createConnection(url ?? await databaseUrl())
}

/**
 * Server thread ids with an ACTIVE InnoDB transaction, read live from SHOW ENGINE INNODB STATUS.
 * information_schema.innodb_trx is served from a cache that InnoDB refreshes only when nobody
 * read it during the last 100 ms, so polling it (here or in any parallel test) can keep showing
 * a transaction that ended long ago. (MariaDB, which the suite runs on, lists every transaction
 * there, read-only ones included.)
 */
export async function activeTransactionThreads (admin: mysql.Connection): Promise<Set<number>> {
  const [rows] = await admin.query<mysql.RowDataPacket[]>('SHOW ENGINE INNODB STATUS')
  const status = String(rows[0].Status)
  const ids = new Set<number>()
  for (const block of status.split('---TRANSACTION ').slice(1)) {
    if (!/^[^\n]*ACTIVE/.test(block)) continue
    const m = /(?:MariaDB|MySQL) thread id (\d+)/.exec(block)
    if (m !== null) ids.add(Number(m[1]))
  }
  return ids
}

/** Open InnoDB transactions on the server, not counting the admin's own (read live, see above). */
export async function openTransactions (admin: mysql.Connection): Promise<number> {
  const active = await activeTransactionThreads(admin)
  active.delete(admin.threadId)
  return active.size
}

/** Client threads in the processlist (optionally of one user), not counting the admin's own. */
export async function serverThreads (admin: mysql.Connection, user?: string): Promise<number> {
  const [rows] = await admin.query<mysql.RowDataPacket[]>(
    "SELECT COUNT(*) AS n FROM information_schema.processlist WHERE id <> CONNECTION_ID() AND command <> 'Daemon' AND user NOT IN ('system user', 'event_scheduler')" +
    (user === undefined ? '' : ' AND user = ?'), user === undefined ? [] : [user])
  return Number(rows[0].n)
}

/** Which of these server thread ids are still alive. */
export async function aliveThreads (admin: mysql.Connection, ids: number[]): Promise<number[]> {
  if (ids.length === 0) return []
  const [rows] = await admin.query<mysql.RowDataPacket[]>(
    'SELECT id FROM information_schema.processlist WHERE id IN (?)', [ids])
  return rows.map((r) => Number(r.id))
}

/** KILL a server thread (the reliable "the server dropped me"); ignores an already-gone thread. */
export async function killThread (admin: mysql.Connection, threadId: number): Promise<void> {
  try {
    await admin.query(`KILL ${Number(threadId)}`)
  } catch (err) {
    if ((err as { code?: string }).code !== 'ER_NO_SUCH_THREAD') throw err
  }
}

/** A connection factory for pools: `new QueuePool(createConnectionFactory(url), ...)`. */
export function createConnectionFactory (url: string): () => Promise<mysql.Connection> {
  return () => mysql.createConnection(url)
}

/** Whether server thread `id` is still running a statement whose text starts with `prefix`. */
export async function runningStatement (admin: mysql.Connection, id: number, prefix: string): Promise<boolean> {
  const [rows] = await admin.query<mysql.RowDataPacket[]>(
    'SELECT COUNT(*) AS n FROM information_schema.processlist WHERE id = ? AND info LIKE ?', [id, prefix + '%'])
  return Number(rows[0].n) > 0
}

/** The server thread id behind a session or pooled connection (runs one statement on it). */
export async function connectionId (db: { query: (sql: string) => Promise<[unknown, unknown]> }): Promise<number> {
  const [rows] = await db.query('SELECT CONNECTION_ID() AS id')
  return Number((rows as Array<{ id: unknown }>)[0].id)
}
