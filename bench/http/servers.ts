/** Starting and stopping the server child processes; every child is tracked and killed on exit. */
import { fork, type ChildProcess } from 'node:child_process'
import path from 'node:path'
import type { AppSpec } from './apps'
import type { ParentMessage, ServerMessage } from './server'

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

export interface StartOptions {
  /** Node flags for the child (e.g. `--cpu-prof`); none by default. */
  execArgv?: string[]
  startTimeoutMs?: number
}

export function startServer (spec: AppSpec, opts: StartOptions = {}): Promise<RunningServer> {
  hookExit()
  const startTimeoutMs = opts.startTimeoutMs ?? 20_000
  const child = fork(path.join(__dirname, 'server.js'), [JSON.stringify(spec)], {
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    execArgv: opts.execArgv ?? []
  })
  children.add(child)
  child.once('exit', () => children.delete(child))
  return new Promise<RunningServer>((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL')
      reject(new Error(`server ${spec.kind} did not start within ${startTimeoutMs} ms`))
    }, startTimeoutMs)
    child.on('message', (msg: ServerMessage) => {
      if (msg.type === 'probe' || msg.type === 'profiled') return
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

/** Kills the server at once (no drain: for servers left with queues nobody waits for). */
export function killServer (server: RunningServer): Promise<void> {
  const { child } = server
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve()
  return new Promise<void>((resolve) => {
    child.once('exit', () => resolve())
    child.kill('SIGKILL')
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

/** Sends over IPC; a server that died fails the caller instead of crashing the benchmark. */
function send (child: ChildProcess, msg: ParentMessage, onError: (err: Error) => void): void {
  if (!child.connected) {
    onError(new Error('the server process is gone'))
    return
  }
  child.send(msg, (err) => {
    if (err !== null) onError(err)
  })
}

/** Starts counting statements and CPU in the server, and sampling its pool's waiting count unless `sampleWaiting` is false. */
export function startProbe (server: RunningServer, sampleWaiting = true): void {
  send(server.child, sampleWaiting ? 'probe-start' : 'probe-start-cpu', () => {})
}

export interface ProbeReading {
  waitingPeak: number
  statements: number
  samples: number
  /** CPU time (user + system) the server used, µs. */
  cpuMicros: number
  /** Ours: checkouts the pool refused at once, and checkouts that waited out their whole timeout. */
  refused: number
  waitedOut: number
  /** With `time503`: the 503s as the server saw them, from its arrival to the end of its answer. */
  served503: { count: number, slow: number, maxMs: number }
  /**
   * With the waiting sampler on: the longest the server's event loop was held up (a 1 ms timer's
   * worst lateness, `monitorEventLoopDelay`): GC, a burst of work, or the OS running someone else
   * on the shared cores. Every request in flight then waits that long, whatever the pool decided.
   */
  loopStallMaxMs: number
}

/** Stops the sampler and returns what it saw since `startProbe`. */
export function readProbe (server: RunningServer, ms = 5000): Promise<ProbeReading> {
  const { child } = server
  return new Promise<ProbeReading>((resolve, reject) => {
    const timer = setTimeout(() => {
      child.off('message', onMessage)
      reject(new Error(`no probe reading within ${ms} ms`))
    }, ms)
    function onMessage (msg: ServerMessage): void {
      if (msg.type !== 'probe') return
      clearTimeout(timer)
      child.off('message', onMessage)
      resolve({ waitingPeak: msg.waitingPeak, statements: msg.statements, samples: msg.samples, cpuMicros: msg.cpuMicros, refused: msg.refused, waitedOut: msg.waitedOut, served503: msg.served503, loopStallMaxMs: msg.loopStallMaxMs })
    }
    child.on('message', onMessage)
    send(child, 'probe-read', (err) => {
      clearTimeout(timer)
      child.off('message', onMessage)
      reject(err)
    })
  })
}

/**
 * Starts the server's self-profiler, or stops it and has it write the profile to `file`;
 * resolves with the CPU µs the server used in between (0 for 'start').
 */
export function profileServer (server: RunningServer, action: 'start' | 'stop', file = ''): Promise<number> {
  const { child } = server
  return new Promise<number>((resolve, reject) => {
    const timer = setTimeout(() => {
      child.off('message', onMessage)
      reject(new Error(`profiler ${action} not confirmed within 10 s`))
    }, 10_000)
    function onMessage (msg: ServerMessage): void {
      if (msg.type !== 'profiled' && msg.type !== 'error') return
      clearTimeout(timer)
      child.off('message', onMessage)
      if (msg.type === 'error') reject(new Error(msg.message))
      else resolve(msg.cpuMicros)
    }
    child.on('message', onMessage)
    send(child, action === 'start' ? 'profile-start' : { type: 'profile-stop', file }, (err) => {
      clearTimeout(timer)
      child.off('message', onMessage)
      reject(err)
    })
  })
}
