/**
 * Exports of the items table, streamed: `GET /export/items.ndjson` and `GET /export/items.csv`.
 * `request.db.stream()` reads rows with back-pressure, so an export of any size holds only a
 * hundred rows in memory; a client that disconnects mid-export stops the statement and frees the
 * connection. Both run in one REPEATABLE READ, read-only transaction: a consistent snapshot, even
 * while orders change stock underneath.
 */
import { pipeline, Transform } from 'node:stream'
import type { FastifyInstance } from 'fastify'

const SELECT_ITEMS = 'SELECT id, name, price_cents AS priceCents, stock FROM items ORDER BY id'
const snapshot = { config: { db: { transaction: { isolationLevel: 'REPEATABLE READ', readOnly: true } } } } as const

/** One JSON document per line. */
function toNdjson (): Transform {
  return new Transform({
    writableObjectMode: true,
    transform (row: object, _encoding, callback) {
      callback(null, JSON.stringify(row) + '\n')
    }
  })
}

/** RFC 4180 CSV: a header line, then one line per row (rows as arrays, in column order). */
function toCsv (columns: string[]): Transform {
  const cell = (value: unknown): string => {
    const text = value === null || value === undefined ? '' : String(value)
    return /[",\r\n]/.test(text) ? `"${text.replace(/"/g, '""')}"` : text
  }
  let header = false
  return new Transform({
    writableObjectMode: true,
    transform (row: unknown[], _encoding, callback) {
      const line = row.map(cell).join(',') + '\r\n'
      if (header) return callback(null, line)
      header = true
      callback(null, columns.join(',') + '\r\n' + line)
    },
    flush (callback) {
      callback(null, header ? '' : columns.join(',') + '\r\n')
    }
  })
}

// A failed pipeline destroys the response: the client sees a cut-off download, never a "complete" one.
const ignore = (): void => {}

export default async function exportRoutes (app: FastifyInstance): Promise<void> {
  app.get('/export/items.ndjson', snapshot, async (request, reply) => {
    reply.type('application/x-ndjson')
    return pipeline(request.db.stream(SELECT_ITEMS), toNdjson(), ignore)
  })

  app.get('/export/items.csv', snapshot, async (request, reply) => {
    reply.type('text/csv; charset=utf-8').header('content-disposition', 'attachment; filename="items.csv"')
    return pipeline(request.db.stream(SELECT_ITEMS, [], { rowsAsArray: true }), toCsv(['id', 'name', 'priceCents', 'stock']), ignore)
  })
}
