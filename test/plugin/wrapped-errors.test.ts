/**
 * The onError hook that gives a query builder's wrapper our error's face must never break the
 * onError chain: a recogniser that throws (a peer without the class it tests for, say) would make
 * Fastify skip every onError hook after ours and go straight to the error handler.
 */
import t from 'tap'
import { QueryError } from '../../lib'
import { recognizeWrapper } from '../../lib/plugin/wrapped-errors'
import { admin } from '../helpers/pool'
import { assertSettled, buildApp } from './_helpers'

class Wrapper extends Error {}

t.test('a recogniser that throws leaves the error alone and the later onError hooks run', async (t) => {
  const db = await admin(t)
  recognizeWrapper(() => { throw new TypeError('Right-hand side of instanceof is not callable') })
  recognizeWrapper((error) => error instanceof Wrapper)
  const seenLater: string[] = []
  const { app } = await buildApp(t, {
    setup (app) {
      app.addHook('onError', (_request, _reply, error, done) => { seenLater.push(error.message); done() })
      app.get('/plain', async () => { throw new Error('plain failure') })
      app.get('/wrapped', async () => { throw new Wrapper('SELECT secret FROM t WHERE x = 42', { cause: new QueryError(new Error('server text')) }) })
    }
  })
  const plain = await app.inject('/plain')
  t.equal(plain.statusCode, 500)
  t.equal((plain.json() as { message?: string }).message, 'plain failure', 'not a wrapper: untouched')
  const wrapped = await app.inject('/wrapped')
  t.equal((wrapped.json() as { code?: string }).code, 'FST_DB_QUERY_FAILED', 'the other recogniser still works')
  t.notMatch(wrapped.body, /SELECT|secret|server text/)
  t.same(seenLater, ['plain failure', 'Database query failed'], 'the hook after ours ran both times, after the rewrite')
  await assertSettled(t, app, db)
})
