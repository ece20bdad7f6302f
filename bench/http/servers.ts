/** Starting and stopping the server child processes; every child is tracked and killed on exit. */
import { fork, type ChildProcess } from 'node:child_process'
import path from 'node:path'
import type { AppSpec } from './apps'
import type { ServerMessage } from './server'

export interface RunningServer {
  url: string
  child: ChildProcess
}

const children = new Set<ChildProcess>()
let hooked = false

function hookExit (): void {
  if (hooked) return
  hooked = true
  process.on('exit', killAll)
  for (const signal of ['SIGINT', 'SIGTERM'] as const) {
    process.once(signal, () => {
      killAll()
      process.exit(130)
    })
  }
}

/** Kills every child still running (synchronous: safe in an 'exit' handler). */
export function killAll (): void {
  for (const child of children) {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL')
  }
  children.clear()
}

export function startServer (spec: AppSpec, startTimeoutMs = 20_000): Promise<RunningServer> {
  hookExit()
  const child = fork(path.join(__dirname, 'server.js'), [JSON.stringify(spec)], {
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    execArgv: []
  })
  children.add(child)
  child.once('exit', () => children.delete(child))
  return new Promise<RunningServer>((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL')
      reject(new Error(`server ${spec.kind} did not start within ${startTimeoutMs} ms`))
    }, startTimeoutMs)
    child.on('message', (msg: ServerMessage) => {
      clearTimeout(timer)
      if (msg.type === 'ready') resolve({ url: `http://127.0.0.1:${msg.port}`, child })
      else reject(new Error(`server ${spec.kind} failed to start: ${msg.message}`))
    })
    child.once('exit', (code, signal) => {
      clearTimeout(timer)
      reject(new Error(`server ${spec.kind} exited before it was ready (code ${code}, signal ${signal})`))
    })
  })
}

/** Asks the server to close (pool drained), killing it if it takes more than `ms`. */
export function stopServer (server: RunningServer, ms = 5000): Promise<void> {
  const { child } = server
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve()
  return new Promise<void>((resolve) => {
    const timer = setTimeout(() => child.kill('SIGKILL'), ms)
    child.once('exit', () => {
      clearTimeout(timer)
      resolve()
    })
    if (child.connected) child.send('stop')
    else child.kill('SIGTERM')
  })
}
