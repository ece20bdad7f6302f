import t from 'tap'
import { poolChannels, sessionChannels } from '../../lib/observe/channels'
import { buildApp } from '../plugin/_helpers'

const optionalLoaded = (): string[] => Object.keys(require.cache).filter((k) => /[\\/](@opentelemetry|prom-client)[\\/]/.test(k))

t.test('without metrics asked for, the optional peers are never loaded and nothing subscribes', async (t) => {
  t.same(optionalLoaded(), [], 'importing the package loads neither @opentelemetry/api nor prom-client')
  const { app } = await buildApp(t, { logLevel: false })
  await app.db.query('SELECT 1')
  t.same(optionalLoaded(), [], 'nor does registering the plugin (no MeterProvider registered) and using it')
  for (const ch of [...Object.values(poolChannels), ...Object.values(sessionChannels)]) t.equal(ch.hasSubscribers, false, String(ch.name))
})

t.test('openTelemetry: true with no SDK set up: the API is loaded, the global no-op provider is used', async (t) => {
  const { app } = await buildApp(t, { plugin: { openTelemetry: true }, logLevel: false })
  await app.db.query('SELECT 1')
  t.ok(optionalLoaded().some((k) => k.includes('@opentelemetry')), 'loaded on request')
  t.equal(optionalLoaded().some((k) => k.includes('prom-client')), false)
})
