/**
 * The plugin's connection creator. `connection` may be fixed options or a function called for
 * every new connection (sync or async), for rotating passwords and short-lived IAM tokens (RDS,
 * Aurora, Cloud SQL): what it returns is validated like the option, and whatever it throws reaches
 * the checkout as the cause of a DatabaseUnavailableError. Each connection gets the capped
 * prepared-statement cache, and the first one reads the server's `max_prepared_stmt_count` to
 * check the pool against it.
 */
import mysql, { type Connection } from 'mysql2/promise'
import type { ConnectionOptions, RowDataPacket } from 'mysql2'
import { resolveConnection, type ConnectionSource, type PoolOptions } from '../options'
import type { PoolLogger } from '../pool/logger'
import { statementBudgetWarning } from '../pool/statement-budget'

export interface FactorySettings {
  /** `connection` given as a function, and the placeholder that stands for it in the node list. */
  source: { fn: ConnectionSource, standsFor: ConnectionOptions } | undefined
  poolOptions: PoolOptions
  /** Per-connection prepared statement cache (mysql2's maxPreparedStatements) unless the options set it. */
  maxPreparedStatements: number
  /** Most connections the primary pool can hold, for the budget check. */
  poolMax: number
  log: PoolLogger
}

/** Opens a connection to one server (a node, a replica): what lib/cluster calls for every new connection. */
export function connectionFactory (settings: FactorySettings): (options: ConnectionOptions) => Promise<Connection> {
  const { source, poolOptions, maxPreparedStatements, poolMax, log } = settings
  let budgetChecked = false
  return async (nodeOptions) => {
    const options = source !== undefined && nodeOptions === source.standsFor ? resolveConnection(await source.fn(), poolOptions) : nodeOptions
    const conn = await mysql.createConnection({ maxPreparedStatements, ...options })
    if (!budgetChecked) {
      budgetChecked = true
      await checkBudget(conn, poolMax, options.maxPreparedStatements ?? maxPreparedStatements, log)
    }
    return conn
  }
}

/**
 * Best effort: a server or proxy that can't answer (ProxySQL, a restricted user) must not fail the
 * connect over a warning. The check runs once, on the first connection that opens.
 */
async function checkBudget (conn: Connection, poolMax: number, perConnection: number, log: PoolLogger): Promise<void> {
  try {
    const [rows] = await conn.query<RowDataPacket[]>('SELECT @@GLOBAL.max_prepared_stmt_count AS serverMax')
    const serverMax = Number(rows[0]?.serverMax)
    if (!Number.isFinite(serverMax)) throw new Error('max_prepared_stmt_count not readable')
    const warning = statementBudgetWarning({ poolMax, perConnection, serverMax })
    if (warning !== undefined) log.warn({ poolMax, maxPreparedStatements: perConnection, maxPreparedStmtCount: serverMax }, warning)
  } catch (err) {
    log.debug({ err }, 'Could not read max_prepared_stmt_count; prepared statement budget not checked')
  }
}
