/**
 * Child-process entry: builds one app (spec as JSON in argv[2]), listens on a free port and tells
 * the parent over IPC. Exits on 'stop' or as soon as the parent goes away, so a crashed or
 * interrupted benchmark never leaves servers behind.
 *
 * Between 'probe-start' and 'probe-read' the server counts the statements it completed and the CPU
 * time it used (process.cpuUsage: on a shared machine CPU per request is far steadier than
 * throughput); on 'probe-start' (not 'probe-start-cpu') it also samples its pool's `waiting` count
 * every PROBE_INTERVAL_MS for the overload section's peak.
 */
import { buildApp, type AppSpec, type PoolProbe } from './apps'
import { monitorEventLoopDelay } from 'node:perf_hooks'
import { SelfProfiler } from './self-profiler'

export type ServerMessage =
  | { type: 'ready', port: number }
  | { type: 'error', message: string }
  | { type: 'probe', waitingPeak: number, statements: number, samples: number, cpuMicros: number, refused: number, waitedOut: number, served503: { count: number, slow: number, maxMs: number }, loopStallMaxMs: number }
  | { type: 'profiled', cpuMicros: number }

export type ParentMessage = 'stop' | 'probe-start' | 'probe-start-cpu' | 'probe-read' | 'profile-start' | { type: 'profile-stop', file: string }

const PROBE_INTERVAL_MS = 2

function send (msg: ServerMessage): void {
  process.send?.(msg)
}

/** Samples the pool's waiting count on a timer; the peak is what the report shows. */
class WaitingSampler {
  #timer: NodeJS.Timeout | undefined
  #peak = 0
  #samples = 0
  #statementsAtStart = 0
  #cpuAtStart: NodeJS.CpuUsage | undefined
  #timeoutsAtStart = { refused: 0, waitedOut: 0 }
  #served503AtStart = { count: 0, slow: 0 }
  readonly #loop = monitorEventLoopDelay({ resolution: 1 })
  #loopOn = false
  readonly #probe: PoolProbe

  constructor (probe: PoolProbe) {
    this.#probe = probe
  }

  start (sampleWaiting: boolean): void {
    this.#peak = 0
    this.#samples = 0
    this.#statementsAtStart = this.#probe.statements
    this.#cpuAtStart = process.cpuUsage()
    this.#timeoutsAtStart = this.#probe.timeouts?.() ?? { refused: 0, waitedOut: 0 }
    this.#served503AtStart = { count: this.#probe.served503.count, slow: this.#probe.served503.slow }
    this.#probe.served503.maxMs = 0
    clearInterval(this.#timer)
    this.#timer = undefined
    this.#loop.disable()
    this.#loop.reset()
    this.#loopOn = sampleWaiting
    if (!sampleWaiting) return
    this.#loop.enable()
    this.#timer = setInterval(() => {
      this.#samples++
      const waiting = this.#probe.waiting()
      if (waiting > this.#peak) this.#peak = waiting
    }, PROBE_INTERVAL_MS)
  }

  read (): ServerMessage {
    const cpu = process.cpuUsage(this.#cpuAtStart)
    clearInterval(this.#timer)
    this.#timer = undefined
    const timeouts = this.#probe.timeouts?.() ?? { refused: 0, waitedOut: 0 }
    this.#loop.disable()
    // The histogram's max is the timer's whole interval when late, in ns; the stall is what exceeds the 1 ms.
    const loopStallMaxMs = this.#loopOn ? Math.max(0, this.#loop.max / 1e6 - 1) : 0
    return {
      type: 'probe',
      waitingPeak: this.#peak,
      statements: this.#probe.statements - this.#statementsAtStart,
      samples: this.#samples,
      cpuMicros: cpu.user + cpu.system,
      refused: timeouts.refused - this.#timeoutsAtStart.refused,
      waitedOut: timeouts.waitedOut - this.#timeoutsAtStart.waitedOut,
      served503: {
        count: this.#probe.served503.count - this.#served503AtStart.count,
        slow: this.#probe.served503.slow - this.#served503AtStart.slow,
        maxMs: this.#probe.served503.maxMs
      },
      loopStallMaxMs
    }
  }
}

async function main (): Promise<void> {
  if (process.send === undefined) throw new Error('bench/http/server must be started with an IPC channel (child_process.fork)')
  const spec = JSON.parse(process.argv[2] ?? '{}') as AppSpec
  const { app, probe } = await buildApp(spec)
  const sampler = new WaitingSampler(probe)
  const profiler = new SelfProfiler()
  const profiled = (cpuMicros = 0): void => send({ type: 'profiled', cpuMicros })
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
  process.on('message', (msg: ParentMessage) => {
    if (msg === 'stop') stop()
    else if (msg === 'probe-start' || msg === 'probe-start-cpu') sampler.start(msg === 'probe-start')
    else if (msg === 'probe-read') send(sampler.read())
    else if (msg === 'profile-start') profiler.start().then(() => profiled(), fail)
    else if (typeof msg === 'object' && msg.type === 'profile-stop') profiler.stop(msg.file).then(profiled, fail)
  })
  await app.listen({ host: '127.0.0.1', port: 0, backlog: 4096 })
  const address = app.server.address()
  if (address === null || typeof address === 'string') throw new Error('no TCP address')
  send({ type: 'ready', port: address.port })
}

function fail (err: unknown): void {
  send({ type: 'error', message: err instanceof Error ? err.stack ?? err.message : String(err) })
  process.exit(1)
}

main().catch(fail)
