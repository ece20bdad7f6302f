/**
 * fastify-db-session: request-scoped MySQL/MariaDB sessions for Fastify 5, from a connection
 * pool with SQLAlchemy's QueuePool semantics.
 */
import { dbSession } from './plugin/plugin'

export { dbSession }
export default dbSession

export { Session, type SessionOptions, type SessionStats } from './session/session'
export { DbFacade } from './plugin/db-facade'
export {
  Pool, QueuePool, NullPool, StaticPool, AssertionPool, PooledConnection,
  type Creator, type PoolEvents, type CheckoutOptions, type ConnectionRecord, type PoolStats, type PoolLogger, type DriverConnection
} from './pool'
export {
  DbError, InvalidOptionError, PoolTimeoutError, PoolClosedError, DatabaseUnavailableError, DriverTimeoutError,
  ConnectionInvalidatedError, AlreadyCheckedOutError, SessionClosedError, PendingRollbackError,
  TransactionStateError, CommitFailedError, QueryError, DisconnectedError, NoRequestError, type DbErrorCode
} from './errors'
export {
  defaultPoolOptions, type PoolOptions, type DbSessionPluginOptions, type ResetOnReturn, type PoolClassName
} from './options'
