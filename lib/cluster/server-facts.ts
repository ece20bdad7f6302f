/**
 * What the server says about its own limits, read once on the first connection of a pool, and
 * the warnings they lead to. Kept as a plain object (`ServerFacts`) so other features can check
 * their own settings against it (a prepared-statement cache against `max_prepared_stmt_count`).
 */
import type { DriverConnection } from '../pool/driver'
import type { PoolLogger } from '../pool/logger'

/** The server's limits as read on a pool's first connection. Durations in ms. */
export interface ServerFacts {
  /** `@@max_connections`: for every client of the server together. */
  maxConnections: number
  /** `@@wait_timeout` of this session, in ms: an idle connection is closed by the server after it. */
  waitTimeout: number
  /** `@@max_prepared_stmt_count`: for every connection of the server together. */
  maxPreparedStmtCount: number
  /** `@@read_only`: writes of users without SUPER / READ ONLY ADMIN fail (1290). */
  readOnly: boolean
  /** `VERSION()`, e.g. `10.11.19-MariaDB-0+deb12u1`. */
  version: string
  /** MariaDB (GTIDs `domain-server-seq`, `MASTER_GTID_WAIT`) rather than MySQL. */
  mariadb: boolean
}

export const SERVER_FACTS_SQL = 'SELECT @@max_connections AS maxConnections, @@wait_timeout AS waitTimeout, ' +
  '@@max_prepared_stmt_count AS maxPreparedStmtCount, @@global.read_only AS readOnly, VERSION() AS version'

interface FactsRow { maxConnections: unknown, waitTimeout: unknown, maxPreparedStmtCount: unknown, readOnly: unknown, version: unknown }

export async function readServerFacts (conn: DriverConnection): Promise<ServerFacts> {
  const [rows] = await conn.query(SERVER_FACTS_SQL)
  const row = (rows as FactsRow[])[0]
  const version = String(row.version)
  return {
    maxConnections: Number(row.maxConnections),
    waitTimeout: Math.round(Number(row.waitTimeout) * 1000),
    maxPreparedStmtCount: Number(row.maxPreparedStmtCount),
    readOnly: Number(row.readOnly) === 1,
    version,
    mariadb: /mariadb/i.test(version)
  }
}

/**
 * `poolRecycle: 'auto'`: a connection is never older than the server's idle limit, so it can't
 * have been idle that long either. The margin (a fifth, at most a minute) covers the time between
 * the age check at checkout and the statement that follows.
 */
export function autoRecycle (waitTimeout: number): number {
  return Math.max(1, Math.round(waitTimeout - Math.min(60_000, waitTimeout / 5)))
}

/** A sensible share of max_connections for one app instance: the rest is for other instances, admin and replication. */
export const MAX_CONNECTIONS_SHARE = 0.5

export interface PoolLimits {
  poolSize: number
  maxOverflow: number
  /** ms; -1 = off. */
  recycle: number
  prePing: boolean
  /** The pool writes (a primary); false for read-only replica pools. */
  writes: boolean
}

/** The warnings these facts call for, each with the numbers and the fix. */
export function serverWarnings (facts: ServerFacts, limits: PoolLimits, where: string): string[] {
  const out: string[] = []
  const wait = facts.waitTimeout
  if (!limits.prePing && (limits.recycle < 0 || limits.recycle >= wait)) {
    out.push(`${where}: poolRecycle is ${limits.recycle < 0 ? 'off' : `${limits.recycle} ms`} but the server closes connections idle for ` +
      `wait_timeout = ${wait} ms; set poolRecycle: 'auto' (or below ${wait} ms), or poolPrePing: true`)
  }
  const unbounded = limits.poolSize === 0 || limits.maxOverflow < 0
  const most = limits.poolSize + limits.maxOverflow
  if (unbounded || most > facts.maxConnections * MAX_CONNECTIONS_SHARE) {
    out.push(`${where}: this pool may open ${unbounded ? 'an unlimited number of' : most} connections (poolSize + maxOverflow) against ` +
      `max_connections = ${facts.maxConnections} for every client of the server; keep poolSize + maxOverflow times the number of app ` +
      `instances under max_connections (at most ${Math.floor(facts.maxConnections * MAX_CONNECTIONS_SHARE)} for one instance), or put ProxySQL/MaxScale in front`)
  }
  if (limits.writes && facts.readOnly) {
    out.push(`${where}: the server is read-only (read_only = ON): writes by users without SUPER or READ ONLY ADMIN will fail with 1290; ` +
      'point connection at the primary (or list the cluster nodes so a read-only one is skipped)')
  }
  return out
}

/** Holds the facts of one server once read, and warns about them once. */
export class ServerFactsProbe {
  #facts: ServerFacts | undefined = undefined
  #reading: Promise<void> | undefined = undefined
  readonly #limits: () => PoolLimits
  readonly #where: string
  readonly #log: PoolLogger
  readonly #onFacts: ((facts: ServerFacts) => void) | undefined

  constructor (where: string, limits: () => PoolLimits, log: PoolLogger, onFacts?: (facts: ServerFacts) => void) {
    this.#where = where
    this.#limits = limits
    this.#log = log
    this.#onFacts = onFacts
  }

  /** The facts, once the first connection has read them. */
  get facts (): ServerFacts | undefined {
    return this.#facts
  }

  /**
   * Reads the facts on this connection unless already done (one query per pool, not per
   * connection). A failure is logged at debug and tried again on the next connection.
   */
  async readOnce (conn: DriverConnection): Promise<void> {
    if (this.#facts !== undefined) return
    this.#reading ??= readServerFacts(conn).then((facts) => {
      this.#facts = facts
      this.#onFacts?.(facts)
      for (const msg of serverWarnings(facts, this.#limits(), this.#where)) {
        this.#log.warn({ dbServer: { maxConnections: facts.maxConnections, waitTimeout: facts.waitTimeout, readOnly: facts.readOnly } }, msg)
      }
    }, (err: unknown) => {
      this.#log.debug({ err }, 'Could not read the server limits; trying again on the next connection')
    }).finally(() => { this.#reading = undefined })
    await this.#reading
  }
}
