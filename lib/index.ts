/**
 * fastify-db-session: request-scoped MySQL/MariaDB sessions for Fastify 5, from a connection
 * pool with SQLAlchemy's QueuePool semantics.
 */
import { dbSession } from './plugin/plugin'

export { dbSession }
export default dbSession
export type { DbSessions, DbFacades } from './plugin/plugin'
export type { RouteDbConfig } from './plugin/route-config'

export { Session, type SessionOptions, type SessionStats } from './session/session'
export type { IsolationLevel, TransactionOptions, TransactionRunOptions } from './session/transaction-options'
export type { RowStream, StreamOptions } from './session/stream'
export { DbFacade } from './plugin/db-facade'
export type { DbStats } from './plugin/db-facade'
export type { ServerFacts } from './cluster/server-facts'
export type { ReplicaStats } from './cluster/replica-set'
export type { NodeStats } from './cluster/cluster'
export type { ClusterPluginOptions, ConnectionOption, ReplicaOption, ReplicaPoolOptions } from './cluster/options'
export {
  Pool, QueuePool, NullPool, StaticPool, AssertionPool, PooledConnection,
  type Creator, type PoolEvents, type CheckoutOptions, type ConnectionRecord, type PoolStats, type PoolLogger, type DriverConnection, type OnConnect
} from './pool'
export {
  DbError, InvalidOptionError, PoolTimeoutError, PoolClosedError, DatabaseUnavailableError, DriverTimeoutError,
  ConnectionInvalidatedError, AlreadyCheckedOutError, SessionClosedError, PendingRollbackError,
  TransactionStateError, CommitFailedError, QueryError, DisconnectedError, NoRequestError, TransactionConflictError, type DbErrorCode,
  MissingPeerError, type FailFastRefusal
} from './errors'
export {
  defaultPoolOptions, type PoolOptions, type DbSessionPluginOptions, type ConnectionSource, type ResetOnReturn, type PoolClassName
} from './options'
export { instrumentPool, type InstrumentPoolOptions, type PoolInstrumentation, type MeterProviderLike, type PrometheusRegistry } from './observe/metrics'
export {
  POOL_CHANNELS, SESSION_CHANNELS, type PoolMessage, type ConnectMessage, type ConnectErrorMessage, type CheckoutMessage,
  type CheckinMessage, type TimeoutMessage, type InvalidateMessage, type LeakMessage, type SessionAcquiredMessage, type SessionReleasedMessage
} from './observe/channels'
export type { HealthOptions, HealthReport, HealthStatus } from './observe/health'
export { PROMETHEUS_METRICS } from './observe/prometheus'
