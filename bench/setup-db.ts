/** The `bench_items` table (10 000 rows), created once, and the server facts for the report. */
import mysql from 'mysql2/promise'

export const ITEM_COUNT = 10_000

export interface DbInfo {
  version: string
  flushLogAtTrxCommit: string
}

export async function setupDatabase (url: string): Promise<DbInfo> {
  const conn = await mysql.createConnection(url)
  try {
    await conn.query(`CREATE TABLE IF NOT EXISTS bench_items (
      id INT UNSIGNED NOT NULL PRIMARY KEY,
      name VARCHAR(64) NOT NULL,
      price DECIMAL(10, 2) NOT NULL,
      n INT NOT NULL DEFAULT 0
    ) ENGINE=InnoDB`)
    const [rows] = await conn.query<mysql.RowDataPacket[]>('SELECT COUNT(*) AS c, COALESCE(MIN(id), 0) AS lo, COALESCE(MAX(id), 0) AS hi FROM bench_items')
    const { c, lo, hi } = rows[0] as { c: number, lo: number, hi: number }
    if (Number(c) !== ITEM_COUNT || Number(lo) !== 1 || Number(hi) !== ITEM_COUNT) {
      await conn.query('TRUNCATE TABLE bench_items')
      const batch = 1000
      for (let start = 1; start <= ITEM_COUNT; start += batch) {
        const values: [number, string, number][] = []
        for (let id = start; id < start + batch && id <= ITEM_COUNT; id++) values.push([id, `item-${id}`, (id % 1000) / 10])
        await conn.query('INSERT INTO bench_items (id, name, price) VALUES ?', [values])
      }
    }
    const [info] = await conn.query<mysql.RowDataPacket[]>('SELECT VERSION() AS v, @@innodb_flush_log_at_trx_commit AS f')
    return { version: String(info[0].v), flushLogAtTrxCommit: String(info[0].f) }
  } finally {
    await conn.end()
  }
}
