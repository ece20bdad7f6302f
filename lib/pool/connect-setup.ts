/**
 * Setting up a new connection before its first hand-out (HikariCP's connectionInitSql, knex's
 * pool.afterCreate, SQLAlchemy's `connect` event): the `onConnect` option, then the pool's
 * `connect` listeners. Either failing aborts the checkout: a half set-up connection (say, without
 * its `SET time_zone`) must never be pooled, because every later request would silently run
 * without it. `onConnect` has the connect deadline (`connectTimeout`).
 */
import type { ConnectionRecord } from './connection-record'
import { withDeadline, type DriverConnection } from './driver'

/** Runs on every new connection (the raw mysql2/promise connection) before it is first handed out. */
export type OnConnect = (connection: DriverConnection) => unknown

interface SetupOptions { onConnect: OnConnect | undefined, connectTimeout: number }

/** Runs the set-up; resolves with the error that aborted it, or undefined when it succeeded. */
export async function runConnectSetup (
  conn: DriverConnection,
  record: ConnectionRecord,
  options: SetupOptions,
  emitConnect: (conn: DriverConnection, record: ConnectionRecord) => void
): Promise<unknown> {
  try {
    if (options.onConnect !== undefined) {
      const onConnect = options.onConnect
      // The deadline only fails the checkout; the connection is then destroyed, which also ends
      // whatever statement onConnect was waiting for.
      await withDeadline(Promise.resolve().then(() => onConnect(conn)), options.connectTimeout, 'onConnect', noop)
    }
    emitConnect(conn, record)
    return undefined
  } catch (err) {
    return err ?? new Error('onConnect failed')
  }
}

function noop (): void {}
