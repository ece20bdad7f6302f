/**
 * A route's `config.db` (or `config.dbs.NAME` for a named registration): read and validated once,
 * when the route is registered, so a typo fails at start-up and not on the first request.
 */
import { InvalidOptionError } from '../errors'
import { rejectUnknown } from '../pool/options'
import { resolveTransactionOptions, type TransactionOptions } from '../session/transaction-options'

/** What a route may ask of its database session. */
export interface RouteDbConfig {
  /**
   * The request's work runs in one transaction, committed before the response (a unit of work);
   * `{ isolationLevel, readOnly }` says how that transaction begins.
   */
  transaction?: boolean | TransactionOptions
  /** The request's session runs on a read replica (read-only; the primary when no replica can serve). */
  replica?: boolean
}

/** The validated form the plugin keeps per route. */
export interface RouteDbSettings {
  transaction: boolean
  /** The unit of work's transaction options, when given. */
  begin?: TransactionOptions
  replica: boolean
}

const NO_SETTINGS: RouteDbSettings = Object.freeze({ transaction: false, replica: false })
const ROUTE_KEYS = ['transaction', 'replica']

/** Validates one route's config for a registration; `where` names it in messages, e.g. `config.db`. */
export function resolveRouteConfig (value: unknown, where: string): RouteDbSettings {
  if (value === undefined) return NO_SETTINGS
  if (value === null || typeof value !== 'object' || Array.isArray(value)) {
    throw new InvalidOptionError(where, `Invalid route option ${where}: expected an object like { transaction: true }`)
  }
  rejectUnknown(`route ${where}`, value, ROUTE_KEYS)
  const { transaction, replica } = value as RouteDbConfig
  if (replica !== undefined && typeof replica !== 'boolean') {
    throw new InvalidOptionError(`${where}.replica`, `Invalid route option ${where}.replica: expected true or false`)
  }
  if (transaction !== null && typeof transaction === 'object' && !Array.isArray(transaction)) {
    resolveTransactionOptions(transaction, `${where}.transaction`) // validated now, resolved per session
    return { transaction: true, begin: transaction, replica: replica === true }
  }
  if (transaction !== undefined && typeof transaction !== 'boolean') {
    throw new InvalidOptionError(`${where}.transaction`, `Invalid route option ${where}.transaction: expected true, false or { isolationLevel, readOnly }`)
  }
  return transaction === true || replica === true ? { transaction: transaction === true, replica: replica === true } : NO_SETTINGS
}
