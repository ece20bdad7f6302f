/**
 * Compile-time checks (tap typechecks this file): request.db is a Session, app.db a DbFacade,
 * and the route config accepts `db: { transaction: boolean }`. Runtime checks back them up.
 */
import t from 'tap'
import type { FastifyInstance, FastifyRequest } from 'fastify'
import { DbFacade, Session, type PoolStats, type QueuePool } from '../../lib'
import { admin } from '../helpers/pool'
import { assertSettled, buildApp } from './_helpers'

type Equal<A, B> = (<T>() => T extends A ? 1 : 2) extends (<T>() => T extends B ? 1 : 2) ? true : false
function assertType<T extends true> (_ok: T): void {}

assertType<Equal<FastifyRequest['db'], Session>>(true)
assertType<Equal<FastifyInstance['db'], DbFacade>>(true)
assertType<Equal<ReturnType<DbFacade['stats']>, PoolStats>>(true)
assertType<Equal<ReturnType<DbFacade['session']>, Session>>(true)

t.test('request.db is a Session and app.db a DbFacade', async (t) => {
  const db = await admin(t)
  let seen: Session | undefined
  const { app } = await buildApp(t, {
    setup (app) {
      app.get('/typed', { config: { db: { transaction: false } } }, async (request) => {
        const session: Session = request.db
        seen = session
        const neverRuns = (): void => {
          // @ts-expect-error request.db is read-only
          request.db = session
        }
        void neverRuns
        const [rows] = await request.db.query<import('mysql2').RowDataPacket[]>('SELECT 1 AS one')
        return { one: rows[0].one as number }
      })
      const wrong = (): void => {
        // @ts-expect-error the route's db config takes a boolean transaction flag
        app.get('/wrong', { config: { db: { transaction: 'yes' } } }, async () => ({}))
      }
      // And at run time the route is refused when it is registered, naming the option.
      t.throws(wrong, { code: 'FST_DB_INVALID_OPTION', message: /config\.db\.transaction: expected true or false/ })
    }
  })
  const facade: DbFacade = app.db
  t.ok(facade instanceof DbFacade)
  const pool: QueuePool = app.db.pool as QueuePool
  t.equal(pool.size(), 5)
  const res = await app.inject('/typed')
  t.same(res.json(), { one: 1 })
  t.ok(seen instanceof Session)
  await assertSettled(t, app, db)
})
