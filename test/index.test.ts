/** The package's public surface is what ../shared/API.md promises. */
import t from 'tap'
import * as pkg from '../lib'
import dbSession from '../lib'

t.test('the plugin is the default and the named export, with fastify-plugin metadata', async (t) => {
  t.equal(typeof dbSession, 'function')
  t.equal(pkg.dbSession, dbSession)
  const meta = (dbSession as unknown as Record<symbol, unknown>)[Symbol.for('plugin-meta')] as { name: string, fastify: string, dependencies: string[] }
  t.match(meta, { name: 'fastify-db-session', fastify: '5.x', dependencies: ['@fastify/sensible'] })
})

t.test('pools, session and facade classes are exported', async (t) => {
  for (const name of ['Pool', 'QueuePool', 'NullPool', 'StaticPool', 'AssertionPool', 'PooledConnection', 'Session', 'DbFacade'] as const) {
    t.equal(typeof pkg[name], 'function', name)
  }
  t.ok(pkg.QueuePool.prototype instanceof pkg.Pool)
  t.equal(pkg.defaultPoolOptions.poolSize, 5)
  t.equal(pkg.defaultPoolOptions.maxOverflow, 10)
  t.equal(pkg.defaultPoolOptions.timeout, 30_000)
  t.equal(pkg.defaultPoolOptions.resetOnReturn, 'rollback')
})

t.test('every error class is exported, is a DbError, and carries a stable FST_DB_* code', async (t) => {
  const cause = new Error('driver said no')
  const errors: Array<[pkg.DbError, string, number]> = [
    [new pkg.InvalidOptionError('poolSize', 'bad'), 'FST_DB_INVALID_OPTION', 500],
    [new pkg.PoolTimeoutError(5, 10, 30_000, new pkg.QueuePool(() => { throw cause }).stats(), cause), 'FST_DB_POOL_TIMEOUT', 503],
    [new pkg.PoolClosedError(), 'FST_DB_POOL_CLOSED', 503],
    [new pkg.DatabaseUnavailableError(cause), 'FST_DB_UNAVAILABLE', 503],
    [new pkg.DriverTimeoutError('ping', 5000), 'FST_DB_DRIVER_TIMEOUT', 503],
    [new pkg.ConnectionInvalidatedError(), 'FST_DB_CONNECTION_INVALIDATED', 503],
    [new pkg.AlreadyCheckedOutError('connection is already checked out'), 'FST_DB_ALREADY_CHECKED_OUT', 500],
    [new pkg.SessionClosedError(), 'FST_DB_SESSION_CLOSED', 500],
    [new pkg.PendingRollbackError(), 'FST_DB_PENDING_ROLLBACK', 500],
    [new pkg.TransactionStateError('no'), 'FST_DB_TRANSACTION_STATE', 500],
    [new pkg.CommitFailedError(cause), 'FST_DB_COMMIT_FAILED', 500],
    [new pkg.QueryError(cause), 'FST_DB_QUERY_FAILED', 500],
    [new pkg.DisconnectedError(cause), 'FST_DB_DISCONNECTED', 503]
  ]
  for (const [err, code, status] of errors) {
    t.ok(err instanceof pkg.DbError, `${err.name} is a DbError`)
    t.equal(err.code, code, `${err.name}.code`)
    t.equal(err.statusCode, status, `${err.name}.statusCode`)
  }
  t.equal(errors[1][0].message, 'QueuePool limit of size 5 overflow 10 reached, connection timed out, timeout 30.00')
  t.same(errors[1][0].headers, { 'retry-after': '30' })
})
