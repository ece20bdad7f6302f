/**
 * A route's `config.db` (or `config.dbs.NAME` for a named registration): read and validated once,
 * when the route is registered, so a typo fails at start-up and not on the first request.
 */
import { InvalidOptionError } from '../errors'
import { rejectUnknown } from '../pool/options'

/** What a route may ask of its database session. */
export interface RouteDbConfig {
  /** The request's work runs in one transaction, committed before the response (a unit of work). */
  transaction?: boolean
  /** The request's session runs on a read replica (read-only; the primary when no replica can serve). */
  replica?: boolean
}

/** The validated form the plugin keeps per route. */
export interface RouteDbSettings {
  transaction: boolean
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
  for (const [key, v] of [['transaction', transaction], ['replica', replica]] as const) {
    if (v !== undefined && typeof v !== 'boolean') {
      throw new InvalidOptionError(`${where}.${key}`, `Invalid route option ${where}.${key}: expected true or false`)
    }
  }
  return transaction === true || replica === true ? { transaction: transaction === true, replica: replica === true } : NO_SETTINGS
}
