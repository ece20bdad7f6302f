/**
 * Child-process entry: builds one app (spec as JSON in argv[2]), listens on a free port and tells
 * the parent over IPC. Exits on 'stop' or as soon as the parent goes away, so a crashed or
 * interrupted benchmark never leaves servers behind.
 */
import { buildApp, type AppSpec } from './apps'

export type ServerMessage = { type: 'ready', port: number } | { type: 'error', message: string }

function send (msg: ServerMessage): void {
  process.send?.(msg)
}

async function main (): Promise<void> {
  if (process.send === undefined) throw new Error('bench/http/server must be started with an IPC channel (child_process.fork)')
  const spec = JSON.parse(process.argv[2] ?? '{}') as AppSpec
  const app = await buildApp(spec)
  let stopping = false
  const stop = (): void => {
    if (stopping) return
    stopping = true
    const force = setTimeout(() => process.exit(0), 3000)
    force.unref()
    app.close().then(() => process.exit(0), () => process.exit(1))
  }
  process.on('disconnect', stop)
  process.on('SIGTERM', stop)
  process.on('message', (msg) => {
    if (msg === 'stop') stop()
  })
  await app.listen({ host: '127.0.0.1', port: 0 })
  const address = app.server.address()
  if (address === null || typeof address === 'string') throw new Error('no TCP address')
  send({ type: 'ready', port: address.port })
}

main().catch((err: unknown) => {
  send({ type: 'error', message: err instanceof Error ? err.stack ?? err.message : String(err) })
  process.exit(1)
})
