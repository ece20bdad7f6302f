/**
 * Type tests for the public API (tstyche; `npm run test:types`, needs Node 22+): what a user's
 * editor sees for request.db, request.dbs.NAME, app.db, route config.db, the options and the errors.
 */
import { describe, expect, test } from 'tstyche'
import Fastify, { type FastifyContextConfig } from 'fastify'
import type { FieldPacket, QueryResult, RowDataPacket } from 'mysql2'
import mysql from 'mysql2/promise'
import dbSession, {
  dbSession as namedPlugin, DbError, DbFacade, InvalidOptionError, Pool, PoolClosedError, PooledConnection, PoolTimeoutError,
  QueuePool, Session, SessionClosedError, type DbErrorCode, type DbSessionPluginOptions, type DbStats, type PoolOptions, type PoolStats
} from '../../lib/index'

const app = Fastify()

describe('request', () => {
  test('request.db is the request\'s Session, with mysql2/promise shapes', () => {
    app.get('/', async (request) => {
      expect(request.db).type.toBe<Session>()
      expect(request.db.query('SELECT 1')).type.toBe<Promise<[QueryResult, FieldPacket[]]>>()
      expect(request.db.query<RowDataPacket[]>('SELECT ?', [1])).type.toBe<Promise<[RowDataPacket[], FieldPacket[]]>>()
      expect(request.db.execute).type.toBeCallableWith('SELECT ?', [1])
      expect(request.db.query).type.not.toBeCallableWith(42)
    })
  })

  test('request.dbs.NAME is the Session of a named registration', () => {
    app.get('/', async (request) => {
      expect(request.dbs.reports).type.toBe<Session>()
      expect(request.dbs['other-db']).type.toBe<Session>()
    })
  })
})

describe('app', () => {
  test('app.db and app.dbs.NAME are facades over a pool', () => {
    expect(app.db).type.toBe<DbFacade>()
    expect(app.dbs.reports).type.toBe<DbFacade>()
    expect(app.db.stats()).type.toBe<DbStats>()
    expect(app.db.stats()).type.toBeAssignableTo<PoolStats>()
    expect(app.db.pool).type.toBeAssignableTo<Pool>()
    expect(app.db.session()).type.toBe<Session>()
  })

  test('the plugin is the default and the named export, registered with its options', () => {
    expect(dbSession).type.toBe<typeof namedPlugin>()
    expect(app.register).type.toBeCallableWith(dbSession, { connection: 'mysql://user:password@127.0.0.1:3306/db', poolSize: 5 })
    expect(app.register).type.toBeCallableWith(dbSession, { name: 'reports', connection: { host: '127.0.0.1', user: 'app' } })
    expect(app.register).type.not.toBeCallableWith(dbSession, { connection: 'mysql://h/db', poolSize: '5' })
  })
})

describe('route config', () => {
  test('config.db and config.dbs.NAME take { transaction }', () => {
    expect<FastifyContextConfig['db']>().type.toBeAssignableFrom({ transaction: true })
    expect<FastifyContextConfig['db']>().type.not.toBeAssignableFrom({ transaction: 'yes' })
    expect<FastifyContextConfig['dbs']>().type.toBeAssignableFrom({ reports: { transaction: false } })
    expect(app.get).type.toBeCallableWith('/orders', { config: { db: { transaction: true } } }, async () => 'ok')
  })
})

describe('options', () => {
  test('plugin options use create_engine\'s names and literal unions', () => {
    expect<DbSessionPluginOptions>().type.toBeAssignableFrom({
      connection: 'mysql://user:password@127.0.0.1:3306/db',
      poolSize: 5,
      maxOverflow: 10,
      poolTimeout: 30_000,
      poolRecycle: -1,
      poolPrePing: true,
      poolResetOnReturn: 'reset' as const,
      poolUseLifo: false,
      poolClass: 'queue' as const
    })
    expect<DbSessionPluginOptions>().type.not.toBeAssignableFrom({ poolResetOnReturn: 'bogus' })
    expect<DbSessionPluginOptions>().type.not.toBeAssignableFrom({ poolClass: 'thread' })
    expect<DbSessionPluginOptions>().type.not.toBeAssignableFrom({ poolTimeout: '30s' })
  })

  test('pool options use SQLAlchemy\'s pool names in camelCase', () => {
    expect<PoolOptions>().type.toBeAssignableFrom({ poolSize: 5, maxOverflow: 10, timeout: 30_000, recycle: -1, prePing: false, resetOnReturn: 'rollback' as const, useLifo: false })
    expect<PoolOptions>().type.not.toBeAssignableFrom({ resetOnReturn: 'bogus' })
    expect(QueuePool).type.toBeConstructableWith(() => mysql.createConnection('mysql://h/db'), { poolSize: 1 })
    expect(QueuePool).type.not.toBeConstructableWith('mysql://h/db')
  })

  test('pool.connect() gives a PooledConnection, optionally abandonable', () => {
    const pool = new QueuePool(() => mysql.createConnection('mysql://h/db'))
    expect(pool.connect()).type.toBe<Promise<PooledConnection>>()
    expect(pool.connect).type.toBeCallableWith({ signal: AbortSignal.timeout(100), timeout: 50 })
    expect(pool.status()).type.toBe<string>()
  })
})

describe('errors', () => {
  test('every error is a DbError with a stable code and an HTTP status', () => {
    expect<PoolTimeoutError>().type.toBeAssignableTo<DbError>()
    expect<PoolClosedError>().type.toBeAssignableTo<DbError>()
    expect<SessionClosedError>().type.toBeAssignableTo<DbError>()
    expect<InvalidOptionError>().type.toBeAssignableTo<Error>()
    expect<DbError['code']>().type.toBe<DbErrorCode>()
    expect<DbError['statusCode']>().type.toBe<number>()
    expect<InvalidOptionError['option']>().type.toBe<string>()
    expect<PoolTimeoutError['stats']>().type.toBe<PoolStats>()
    expect<'FST_DB_POOL_TIMEOUT'>().type.toBeAssignableTo<DbErrorCode>()
    expect<'FST_DB_NOPE'>().type.not.toBeAssignableTo<DbErrorCode>()
  })
})
