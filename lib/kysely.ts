/**
 * `fastify-db-session/kysely`: a Kysely instance whose queries run on our sessions.
 *
 *   const db = kysely<Database>(app.db)
 *
 * Inside a request every query runs on the request's session (the connection `request.db` uses,
 * inside its transaction when the route has one), and `db.transaction().execute()` nests there as
 * a SAVEPOINT. Outside a request each Kysely connection acquisition (one statement, or one
 * `transaction()` / `connection()` block) takes a session of its own and closes it afterwards.
 *
 * A Kysely dialect is a driver plus Kysely's own MySQL adapter, introspector and query compiler;
 * only the driver is ours. `kysely` is an optional peer dependency, loaded by this entry point only.
 */
import type {
  CompiledQuery, DatabaseConnection, DatabaseIntrospector, Dialect, DialectAdapter, Driver, Kysely,
  KyselyConfig, QueryCompiler, QueryResult, TransactionSettings
} from 'kysely'
import type * as KyselyPeer from 'kysely'
import { escapeId } from 'mysql2'
import type { ResultSetHeader } from 'mysql2'
import { borrowSession, isSessionSource, type SessionSource } from './integrations/session-source'
import { openTransaction, type OpenTransaction } from './integrations/open-transaction'
import { rowStream } from './integrations/row-stream'
import { loadPeer } from './integrations/peer'
import type { Session } from './session/session'

type KyselyModule = typeof KyselyPeer

const peer = loadPeer<KyselyModule>('kysely', 'fastify-db-session/kysely')

export type { SessionSource }

/** Kysely's own options, less the dialect (ours). */
export type KyselyOptions = Omit<KyselyConfig, 'dialect'>

function isResultSetHeader (result: unknown): result is ResultSetHeader {
  return typeof result === 'object' && result !== null && !Array.isArray(result) && 'affectedRows' in result && 'insertId' in result
}

/** One Kysely connection acquisition: a session, and the builder transaction open on it. */
class SessionConnection implements DatabaseConnection {
  readonly session: Session
  readonly owned: boolean
  transaction: OpenTransaction | undefined = undefined

  constructor (session: Session, owned: boolean) {
    this.session = session
    this.owned = owned
  }

  async executeQuery<R> (compiled: CompiledQuery): Promise<QueryResult<R>> {
    const [result] = await this.session.query(compiled.sql, compiled.parameters as unknown[])
    if (!isResultSetHeader(result)) return { rows: (Array.isArray(result) ? result : []) as R[] }
    const { insertId, affectedRows, changedRows } = result
    return {
      insertId: insertId > 0 ? BigInt(insertId) : undefined,
      numAffectedRows: BigInt(affectedRows),
      numChangedRows: BigInt(changedRows),
      rows: []
    }
  }

  async * streamQuery<R> (compiled: CompiledQuery, _chunkSize?: number): AsyncIterableIterator<QueryResult<R>> {
    // Kysely's own MySQL connection yields one row per result as well.
    for await (const row of rowStream(this.session, compiled.sql, compiled.parameters as unknown[])) yield { rows: [row as R] }
  }
}

/** Our Kysely driver: connections are sessions, transactions are the session's (savepoints nest). */
class SessionDriver implements Driver {
  readonly #source: SessionSource

  constructor (source: SessionSource) {
    this.#source = source
  }

  async init (): Promise<void> {}

  async acquireConnection (): Promise<DatabaseConnection> {
    const { session, owned } = borrowSession(this.#source)
    return new SessionConnection(session, owned)
  }

  async beginTransaction (connection: DatabaseConnection, settings: TransactionSettings): Promise<void> {
    const conn = connection as SessionConnection
    conn.transaction = await openTransaction(conn.session, {
      isolationLevel: settings.isolationLevel,
      readOnly: settings.accessMode === undefined ? undefined : settings.accessMode === 'read only'
    })
  }

  async commitTransaction (connection: DatabaseConnection): Promise<void> {
    await takeTransaction(connection).commit()
  }

  async rollbackTransaction (connection: DatabaseConnection): Promise<void> {
    await takeTransaction(connection).rollback()
  }

  // Kysely's controlled transactions (trx.savepoint('name')) name their own savepoints.
  async savepoint (connection: DatabaseConnection, name: string): Promise<void> {
    await (connection as SessionConnection).session.query(`SAVEPOINT ${escapeId(name)}`)
  }

  async rollbackToSavepoint (connection: DatabaseConnection, name: string): Promise<void> {
    await (connection as SessionConnection).session.query(`ROLLBACK TO SAVEPOINT ${escapeId(name)}`)
  }

  async releaseSavepoint (connection: DatabaseConnection, name: string): Promise<void> {
    await (connection as SessionConnection).session.query(`RELEASE SAVEPOINT ${escapeId(name)}`)
  }

  async releaseConnection (connection: DatabaseConnection): Promise<void> {
    const conn = connection as SessionConnection
    // The request's session is the plugin's to close, when the request ends.
    if (conn.owned) await conn.session.close()
  }

  // The pool belongs to the app (closed with it); destroying a Kysely instance leaves it alone.
  async destroy (): Promise<void> {}
}

function takeTransaction (connection: DatabaseConnection): OpenTransaction {
  const conn = connection as SessionConnection
  const transaction = conn.transaction
  if (transaction === undefined) throw new Error('No transaction is open on this connection')
  conn.transaction = undefined
  return transaction
}

/** Kysely's MySQL dialect with our driver. */
export class SessionDialect implements Dialect {
  readonly #source: SessionSource

  constructor (source: SessionSource) {
    this.#source = source
  }

  createDriver (): Driver {
    return new SessionDriver(this.#source)
  }

  createQueryCompiler (): QueryCompiler {
    return new peer.MysqlQueryCompiler()
  }

  createAdapter (): DialectAdapter {
    return new peer.MysqlAdapter()
  }

  createIntrospector (db: Kysely<unknown>): DatabaseIntrospector {
    return new peer.MysqlIntrospector(db)
  }
}

/**
 * A Kysely instance on `app.db` (or `app.dbs.NAME`): the request's session inside a request, a
 * session per statement outside one. Cheap to create; make one at start-up and share it.
 */
export function kysely<DB> (db: SessionSource, options?: KyselyOptions): Kysely<DB> {
  if (!isSessionSource(db)) throw new TypeError('kysely(db): pass app.db (or app.dbs.NAME), the fastify-db-session facade')
  return new peer.Kysely<DB>({ ...options, dialect: new SessionDialect(db) })
}
