import t from 'tap'
import { InvalidOptionError } from '../lib/errors'
import { defaultPoolOptions, parseConnectionUrl, redactUrl, resolveConnection, resolvePluginOptions, resolvePoolOptions } from '../lib/options'
import { QueuePool } from '../lib/pool'

const creator = async (): Promise<never> => { throw new Error('never called') }

t.test('defaults', async (t) => {
  t.same(resolvePoolOptions(undefined), defaultPoolOptions)
  t.match(resolvePoolOptions({ poolSize: 5, timeout: undefined }), { poolSize: 5, timeout: 30_000, maxOverflow: 10, recycle: -1, resetOnReturn: 'rollback' })
})

const bad: Array<[string, unknown, RegExp]> = [
  ['poolSize', -1, /integer >= 0/],
  ['poolSize', 1.5, /integer >= 0/],
  ['poolSize', '5', /integer >= 0/],
  ['maxOverflow', -2, /integer >= -1/],
  ['timeout', -1, /milliseconds >= 0/],
  ['timeout', Number.NaN, /milliseconds/],
  ['recycle', -5, /milliseconds >= 0/],
  ['recycle', Infinity, /milliseconds/],
  ['prePing', 'yes', /true or false/],
  ['resetOnReturn', 'bogus', /'rollback', 'reset', 'commit', 'none'/],
  ['resetOnReturn', true, /'rollback'/],
  ['useLifo', 1, /true or false/],
  ['connectTimeout', 0, />= 1/],
  ['pingTimeout', 0, />= 1/],
  ['resetTimeout', -1, />= 1/],
  ['prePingBypass', -1, />= 0/],
  ['recycleJitter', 1, /fraction >= 0 and < 1/],
  ['recycleJitter', -0.1, /fraction/],
  ['closeTimeout', -1, />= 0/],
  ['leakDetectionThreshold', -1, />= 0/],
  ['killAbandoned', 'no', /true or false/],
  ['logger', {}, /debug\/info\/warn\/error/],
  ['storeTraceback', null, /true or false/]
]

for (const [option, value, accepted] of bad) {
  t.test(`${option} = ${String(value)} is rejected`, async (t) => {
    const err = t.throws(() => new QueuePool(creator, { [option]: value })) as InvalidOptionError
    t.ok(err instanceof InvalidOptionError)
    t.equal(err.code, 'FST_DB_INVALID_OPTION')
    t.equal(err.option, option)
    t.match(err.message, new RegExp(`^Invalid option ${option}: expected `))
    t.match(err.message, accepted)
  })
}

t.test('unknown keys are rejected with a suggestion and the accepted list', async (t) => {
  const err = t.throws(() => new QueuePool(creator, { pool_size: 3 } as never)) as InvalidOptionError
  t.equal(err.option, 'pool_size')
  t.match(err.message, /Unknown pool option pool_size\. Did you mean poolSize\? Accepted options: poolSize, maxOverflow/)
  const err2 = t.throws(() => new QueuePool(creator, { whatever: 1 } as never)) as InvalidOptionError
  t.notMatch(err2.message, /Did you mean/)
})

t.test('non-object options and a non-function creator', async (t) => {
  t.throws(() => new QueuePool(creator, 5 as never), { code: 'FST_DB_INVALID_OPTION', option: 'options' })
  t.throws(() => new QueuePool('mysql://x' as never), TypeError)
})

t.test('edge values that are accepted', async (t) => {
  t.match(resolvePoolOptions({ timeout: Infinity, maxOverflow: -1, poolSize: 0, recycle: 0, recycleJitter: 0, closeTimeout: Infinity }),
    { timeout: Infinity, maxOverflow: -1, poolSize: 0, recycle: 0 })
})

t.test('plugin options map onto pool options and report the plugin name', async (t) => {
  const r = resolvePluginOptions({ connection: 'mysql://root@127.0.0.1/test', poolTimeout: 100, poolRecycle: 1000, poolSize: 2 })
  t.match(r.poolOptions, { timeout: 100, recycle: 1000, poolSize: 2 })
  t.equal(r.poolClass, 'queue')
  t.equal(r.logPoolStats, 'gauges', 'the gauges on every request line by default')
  t.equal(resolvePluginOptions({ connection: 'mysql://x/test', logPoolStats: 'full' }).logPoolStats, 'full')
  t.equal(resolvePluginOptions({ connection: 'mysql://x/test', logPoolStats: false }).logPoolStats, false)
  t.throws(() => resolvePluginOptions({ connection: 'mysql://x/test', logPoolStats: 'all' as never }), { option: 'logPoolStats', message: /true, false or 'full'/ })
  const err = t.throws(() => resolvePluginOptions({ connection: 'mysql://x/test', poolTimeout: -1 })) as InvalidOptionError
  t.equal(err.option, 'poolTimeout')
  t.match(err.message, /^Invalid option poolTimeout: expected/)
  t.throws(() => resolvePluginOptions({ connection: 'mysql://x/test', poolClass: 'bogus' as never }), { option: 'poolClass', message: /'queue', 'null', 'static', 'assertion'/ })
  t.throws(() => resolvePluginOptions({ connection: 'mysql://x/test', pool_size: 1 } as never), { option: 'pool_size', message: /Did you mean poolSize/ })
  t.throws(() => resolvePluginOptions({ connection: { host: 'x', connectionLimit: 3 } as never }), { name: 'InvalidOptionError', option: 'connection.connectionLimit' })
  t.throws(() => resolvePluginOptions({ connection: { host: 'x', poolSize: 3 } as never }), { name: 'InvalidOptionError', option: 'connection.poolSize' })
  t.throws(() => resolvePluginOptions({ connection: 'mysql://x/test', pool: new QueuePool(creator) }), { name: 'InvalidOptionError', option: 'pool' })
})

t.test('connection URLs', async (t) => {
  t.equal(parseConnectionUrl('mariadb://u:p@h:1/db'), 'mysql://u:p@h:1/db')
  t.throws(() => parseConnectionUrl('postgres://u:secret@h/db'), { option: 'connection', message: /unsupported protocol/ })
  const err = t.throws(() => parseConnectionUrl('mysql://u:secret@h:notaport/db')) as Error
  t.notMatch(err.message, /secret/)
  t.equal(redactUrl('mysql://u:secret@h/db'), 'mysql://u:****@h/db')
  t.equal(redactUrl('mysql://u:p@ss@w0rd@h:3306/db?x=a@b'), 'mysql://u:****@h:3306/db?x=a@b', 'a password containing @ is masked whole')
  t.match(resolveConnection('mysql://u@h/db'), { uri: 'mysql://u@h/db', enableKeepAlive: true, connectTimeout: 10_000 })
  t.throws(() => resolveConnection(42), { name: 'InvalidOptionError', option: 'connection' })
})
