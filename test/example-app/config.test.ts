/** The example's settings: read from the environment and validated before anything starts. */
import t from 'tap'
import { loadConfig, poolOptions } from '../../example-app/config'

t.test('defaults, coercion, and empty variables counted as unset', async (t) => {
  t.match(loadConfig({}), { PORT: 3000, HOST: '127.0.0.1', LOG_LEVEL: 'info' })
  const env = {
    PORT: '8080', POOL_SIZE: '7', MAX_OVERFLOW: '', POOL_PRE_PING: 'true', POOL_TIMEOUT: '2500', POOL_RECYCLE: '-1', LEAK_DETECTION_THRESHOLD: '0', LOG_LEVEL: 'warn', MYSQL_URL: 'mysql://app:secret@db:3306/shop', UNRELATED: 'x'
  }
  const config = loadConfig(env)
  t.match(config, { PORT: 8080, POOL_SIZE: 7, POOL_PRE_PING: true, POOL_TIMEOUT: 2500, LOG_LEVEL: 'warn' })
  t.equal(config.MAX_OVERFLOW, undefined)
  t.same(poolOptions(config), {
    poolSize: 7, maxOverflow: undefined, poolTimeout: 2500, poolRecycle: -1, poolPrePing: true, leakDetectionThreshold: 0
  })
})

t.test('a bad value fails at start, naming the variable', async (t) => {
  t.throws(() => loadConfig({ PORT: 'eighty' }), /PORT/)
  t.throws(() => loadConfig({ PORT: '70000' }), /PORT/)
  t.throws(() => loadConfig({ POOL_SIZE: '-3' }), /POOL_SIZE/)
  t.throws(() => loadConfig({ POOL_PRE_PING: 'maybe' }), /POOL_PRE_PING/)
  t.throws(() => loadConfig({ MYSQL_URL: 'postgres://x@y/z' }), /MYSQL_URL/)
  t.throws(() => loadConfig({ LOG_LEVEL: 'loud' }), /LOG_LEVEL/)
})
