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
}

/** The validated form the plugin keeps per route. */
export interface RouteDbSettings {
  transaction: boolean
}

const NO_SETTINGS: RouteDbSettings = Object.freeze({ transaction: false })
const ROUTE_KEYS = ['transaction']

/** Validates one route's config for a registration; `where` names it in messages, e.g. `config.db`. */
export function resolveRouteConfig (value: unknown, where: string): RouteDbSettings {
  if (value === undefined) return NO_SETTINGS
  if (value === null || typeof value !== 'object' || Array.isArray(value)) {
    throw new InvalidOptionError(where, `Invalid route option ${where}: expected an object like { transaction: true }`)
  }
  rejectUnknown(`route ${where}`, value, ROUTE_KEYS)
  const { transaction } = value as RouteDbConfig
  if (transaction !== undefined && typeof transaction !== 'boolean') {
    throw new InvalidOptionError(`${where}.transaction`, `Invalid route option ${where}.transaction: expected true or false`)
  }
  return transaction === true ? { transaction: true } : NO_SETTINGS
}
