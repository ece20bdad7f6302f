/**
 * Transaction options (`begin(options)`, `transaction(fn, options)`, route
 * `config: { db: { transaction: true | options } }`): validated once, turned into the statements
 * that start the transaction. Invalid values fail with FST_DB_INVALID_OPTION naming the accepted
 * values, at route registration for routes (lib/plugin/route-config.ts) and at call time for
 * begin()/transaction().
 */
import { InvalidOptionError } from '../errors'
import { boolean, describe, integer, oneOf, rejectUnknown } from '../pool/options'

export type IsolationLevel = 'READ UNCOMMITTED' | 'READ COMMITTED' | 'REPEATABLE READ' | 'SERIALIZABLE'

export const ISOLATION_LEVELS: readonly IsolationLevel[] = ['READ UNCOMMITTED', 'READ COMMITTED', 'REPEATABLE READ', 'SERIALIZABLE']

/** Options of begin() and of a route's unit of work. */
export interface TransactionOptions {
  /** The isolation level of this transaction only; the session's default applies to the next one again. */
  isolationLevel?: IsolationLevel
  /** START TRANSACTION READ ONLY: a write fails (errno 1792) whatever the user's privileges. */
  readOnly?: boolean
}

/** Options of transaction(fn): the above plus retries on deadlock / lock wait timeout. */
export interface TransactionRunOptions extends TransactionOptions {
  /** Run `fn` again up to this many more times when the transaction fails with 1213 or 1205. */
  retries?: number
}

/** What a session needs to start a transaction: the statements, precomputed. */
export interface ResolvedTransaction {
  /** `SET TRANSACTION ISOLATION LEVEL …` (applies to the next transaction only), or undefined. */
  readonly isolation: string | undefined
  /** `START TRANSACTION` with its characteristics. */
  readonly start: string
}

export const PLAIN_TRANSACTION: ResolvedTransaction = Object.freeze({ isolation: undefined, start: 'START TRANSACTION' })

const BEGIN_KEYS = ['isolationLevel', 'readOnly']
const RUN_KEYS = [...BEGIN_KEYS, 'retries']

/** Validates begin()/route options; `where` prefixes option names in messages (e.g. `config.db.transaction`). */
export function resolveTransactionOptions (options: unknown, where = 'transaction'): ResolvedTransaction {
  if (options === undefined) return PLAIN_TRANSACTION
  check(options, where, BEGIN_KEYS)
  return toStatements(options as TransactionOptions, where)
}

/** Validates transaction(fn, options): the transaction's statements and the retry count. */
export function resolveRunOptions (options: unknown): { tx: ResolvedTransaction, retries: number } {
  if (options === undefined) return { tx: PLAIN_TRANSACTION, retries: 0 }
  check(options, 'transaction', RUN_KEYS)
  const o = options as TransactionRunOptions
  const retries = o.retries === undefined ? 0 : integer('transaction.retries', o.retries, 0)
  return { tx: toStatements(o, 'transaction'), retries }
}

function check (options: unknown, where: string, keys: string[]): void {
  if (options === null || typeof options !== 'object' || Array.isArray(options)) {
    throw new InvalidOptionError(where, `Invalid option ${where}: expected an object like { isolationLevel: 'READ COMMITTED', readOnly: true }, got ${describe(options)}`)
  }
  rejectUnknown(where, options, keys)
}

function toStatements (o: TransactionOptions, where: string): ResolvedTransaction {
  const level = o.isolationLevel === undefined ? undefined : oneOf(`${where}.isolationLevel`, o.isolationLevel, ISOLATION_LEVELS)
  const readOnly = o.readOnly === undefined ? false : boolean(`${where}.readOnly`, o.readOnly)
  if (level === undefined && !readOnly) return PLAIN_TRANSACTION
  return {
    isolation: level === undefined ? undefined : `SET TRANSACTION ISOLATION LEVEL ${level}`,
    start: readOnly ? 'START TRANSACTION READ ONLY' : 'START TRANSACTION'
  }
}
