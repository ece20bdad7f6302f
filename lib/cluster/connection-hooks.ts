/**
 * Per-connection behaviour a creator adds to the connections it makes, without the pool knowing:
 * session set-up statements (run at connect and again after every COM_RESET_CONNECTION, which
 * would otherwise undo them) and observers of statement results and errors (for the last GTID a
 * commit produced, or an error saying the node went bad). Only connections of pools that need
 * one of these are wrapped; a plain pool's statements run untouched.
 */
import type { FieldPacket, QueryResult } from 'mysql2'
import type { DriverConnection } from '../pool/driver'

export interface ConnectionHooks {
  /** Statements that set the session up, e.g. `SET SESSION TRANSACTION READ ONLY`. */
  setup?: readonly string[]
  /** Sees every statement's result (the OK packet carries session-tracking changes). */
  onResult?: (result: QueryResult) => void
  /** Sees every statement's error, then the caller gets it unchanged. */
  onError?: (err: unknown) => void
}

type Statement = (this: DriverConnection, ...args: unknown[]) => Promise<[QueryResult, FieldPacket[]]>

/** Runs the set-up statements, then wraps the connection's methods as the hooks ask. */
export async function applyHooks (conn: DriverConnection, hooks: ConnectionHooks): Promise<DriverConnection> {
  const setup = hooks.setup ?? []
  for (const sql of setup) await conn.query(sql)
  if (setup.length > 0) {
    const reset = conn.reset.bind(conn)
    // The pool's reset on return ('reset' mode) runs this, inside its own deadline; a failure
    // discards the connection like any failed reset.
    conn.reset = async () => {
      await reset()
      for (const sql of setup) await conn.query(sql)
    }
  }
  const { onResult, onError } = hooks
  if (onResult !== undefined || onError !== undefined) {
    for (const method of ['query', 'execute'] as const) {
      const original = conn[method] as unknown as Statement
      const wrapped: Statement = function (this: DriverConnection, ...args) {
        const call = original.apply(this, args)
        return call.then((result) => {
          onResult?.(result[0])
          return result
        }, (err: unknown) => {
          onError?.(err)
          throw err
        })
      }
      ;(conn as unknown as Record<string, Statement>)[method] = wrapped
    }
  }
  return conn
}
