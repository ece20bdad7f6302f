/**
 * A real MariaDB replication pair for the replica tests: a primary with a binary log and a replica
 * following it by GTID (`MASTER_USE_GTID=slave_pos`), each a private `mariadbd` (own datadir and
 * port). `MASTER_DELAY` makes lag on demand, `STOP SLAVE` a stopped replica. Both servers get an
 * application user `app`/`app` without SUPER (granted ALL on `test.*` only), because a read-only
 * refusal must be shown for a user that `read_only` would not stop either.
 */
import mysql from 'mysql2/promise'
import { startPrivateServer, type PrivateServer } from './private-server'

export interface ReplicationPair {
  primary: PrivateServer
  replica: PrivateServer
  /** The replica's URL for the `app` user (no SUPER, no REPLICATION CLIENT). */
  replicaAppUrl: string
  /** The primary's URL for the `app` user. */
  primaryAppUrl: string
  /** Runs statements on the replica as root (CHANGE MASTER, STOP SLAVE...). */
  onReplica: (sql: string) => Promise<void>
  /** STOP SLAVE, change MASTER_DELAY (s), START SLAVE. */
  setDelay: (seconds: number) => Promise<void>
  /** Waits until the replica has applied everything the primary has written so far. */
  caughtUp: (timeoutMs?: number) => Promise<void>
  remove: () => Promise<void>
}

export const APP_USER_SQL = [
  "CREATE USER IF NOT EXISTS 'app'@'%' IDENTIFIED BY 'app'",
  "GRANT ALL ON test.* TO 'app'@'%'"
]

async function exec (url: string, statements: string[]): Promise<mysql.RowDataPacket[][]> {
  const c = await mysql.createConnection({ uri: url, connectTimeout: 5000 })
  try {
    const out: mysql.RowDataPacket[][] = []
    for (const sql of statements) out.push((await c.query<mysql.RowDataPacket[]>(sql))[0])
    return out
  } finally {
    await c.end()
  }
}

const withUser = (url: string, user: string): string => url.replace('mysql://root@', `mysql://${user}@`)

export async function startReplicationPair (options: { delaySeconds?: number } = {}): Promise<ReplicationPair> {
  const primary = await startPrivateServer({ args: ['--server-id=1', '--log-bin=bin', '--binlog-format=ROW'] })
  let replica: PrivateServer
  try {
    replica = await startPrivateServer({ args: ['--server-id=2', '--log-bin=bin', '--log-slave-updates', '--binlog-format=ROW'] })
  } catch (err) {
    await primary.remove()
    throw err
  }
  const onReplica = async (sql: string): Promise<void> => { await exec(replica.url, [sql]) }
  const follow = async (delay: number): Promise<void> => {
    await exec(replica.url, [
      'STOP SLAVE',
      `CHANGE MASTER TO MASTER_HOST='127.0.0.1', MASTER_PORT=${primary.port}, MASTER_USER='root', MASTER_PASSWORD='', ` +
        `MASTER_USE_GTID=slave_pos, MASTER_DELAY=${Math.max(0, Math.floor(delay))}`,
      'START SLAVE'
    ])
  }
  const caughtUp = async (timeoutMs = 10_000): Promise<void> => {
    const [[pos]] = await exec(primary.url, ['SELECT @@gtid_binlog_pos AS pos'])
    const [[res]] = await exec(replica.url, [`SELECT MASTER_GTID_WAIT(${mysql.escape(String(pos.pos))}, ${timeoutMs / 1000}) AS r`])
    if (Number(res.r) !== 0) throw new Error(`The replica did not catch up with ${String(pos.pos)} within ${timeoutMs} ms`)
  }
  try {
    // Before replication starts, so each server has its own copy without a GTID conflict.
    await exec(replica.url, ['SET sql_log_bin = 0', ...APP_USER_SQL])
    await exec(primary.url, ['SET sql_log_bin = 0', ...APP_USER_SQL])
    await follow(options.delaySeconds ?? 0)
    await caughtUp()
  } catch (err) {
    await Promise.all([primary.remove(), replica.remove()])
    throw err
  }
  return {
    primary,
    replica,
    replicaAppUrl: withUser(replica.url, 'app:app'),
    primaryAppUrl: withUser(primary.url, 'app:app'),
    onReplica,
    setDelay: follow,
    caughtUp,
    remove: async () => { await Promise.all([replica.remove(), primary.remove()]) }
  }
}
