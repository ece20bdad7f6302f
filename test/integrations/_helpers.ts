/**
 * Shared pieces of the Kysely/Drizzle tests: a facade over a real pool, a source that plays
 * "inside a request" with a given session (the driver sees what `tryCurrent()` would return),
 * and one table per test file.
 */
import type mysql from 'mysql2/promise'
import type { RowDataPacket } from 'mysql2'
import { DbFacade, QueuePool, type Session } from '../../lib'
import type { SessionSource } from '../../lib/integrations/session-source'
import { admin, realPool } from '../helpers/pool'
import type { PoolOptions } from '../../lib/pool/options'

interface Teardown { teardown: (fn: () => unknown) => void }

export interface Fixture {
  facade: DbFacade
  pool: QueuePool
  admin: mysql.Connection
}

export async function fixture (t: Teardown, table: string, options?: PoolOptions): Promise<Fixture> {
  const pool = await realPool(t, QueuePool, { poolSize: 2, maxOverflow: 0, timeout: 2000, ...options })
  const db = await admin(t)
  await db.query(`DROP TABLE IF EXISTS \`${table}\``)
  await db.query(`CREATE TABLE \`${table}\` (id INT AUTO_INCREMENT PRIMARY KEY, name VARCHAR(100) NOT NULL) ENGINE=InnoDB`)
  t.teardown(() => db.query(`DROP TABLE IF EXISTS \`${table}\``))
  return { facade: new DbFacade(pool), pool, admin: db }
}

/** A source whose "current request" is `current` (undefined: outside a request). */
export function sourceWith (facade: DbFacade, current: () => Session | undefined): SessionSource {
  return { session: () => facade.session(), tryCurrent: current }
}

export async function names (db: mysql.Connection, table: string): Promise<string[]> {
  const [rows] = await db.query<RowDataPacket[]>(`SELECT name FROM \`${table}\` ORDER BY id`)
  return rows.map((r) => String(r.name))
}
