/**
 * The operations of the model-based run as fast-check commands, and the runner used by the quick
 * run in `npm test` and by `npm run test:model -- --runs N`. Each command prints as the call that
 * replays it, so a shrunk counterexample can be pasted into a regular test (counterexamples.test.ts).
 */
import fc from 'fast-check'
import type mysql from 'mysql2/promise'
import type { Fault, ModelOptions, PoolModel } from './reference-model'
import { LONG_CLOSE_TIMEOUT, PoolSystem } from './pool-system'

type Cmd = fc.AsyncCommand<PoolModel, PoolSystem>

const hasHeld = (m: PoolModel): boolean => m.held.size > 0
const hasHeldLive = (m: PoolModel): boolean => [...m.held.values()].some((s) => s.state === 'live')
const hasHeldUsable = (m: PoolModel): boolean => [...m.held.values()].some((s) => s.state === 'live' || s.state === 'broken')
const hasHung = (m: PoolModel): boolean => m.pending.some((p) => p.kind === 'hung')
const hasWaiter = (m: PoolModel): boolean => m.pending.some((p) => p.abandoned !== true)

export class Connect implements Cmd {
  check (): boolean { return true }
  run (_m: PoolModel, r: PoolSystem): Promise<void> { return r.connect() }
  toString (): string { return 'connect()' }
}

export class CloseHandle implements Cmd {
  constructor (readonly i: number) {}
  check (m: PoolModel): boolean { return hasHeld(m) }
  run (_m: PoolModel, r: PoolSystem): Promise<void> { return r.closeHandle(this.i) }
  toString (): string { return `closeHandle(${this.i})` }
}

export class Invalidate implements Cmd {
  constructor (readonly i: number) {}
  check (m: PoolModel): boolean { return hasHeld(m) }
  run (_m: PoolModel, r: PoolSystem): Promise<void> { return r.invalidate(this.i) }
  toString (): string { return `invalidate(${this.i})` }
}

/** A statement on a held handle; on a killed connection it fails and invalidates pool-wide. */
export class Use implements Cmd {
  constructor (readonly i: number) {}
  // Only handles whose connection is live or killed (destroyed ones belong to a closed pool).
  check (m: PoolModel): boolean { return hasHeldUsable(m) && [...m.held.values()].every((s) => s.state === 'live' || s.state === 'broken') }
  run (_m: PoolModel, r: PoolSystem): Promise<void> { return r.use(this.i) }
  toString (): string { return `use(${this.i})` }
}

export class Kill implements Cmd {
  constructor (readonly i: number, readonly held: boolean) {}
  check (m: PoolModel): boolean {
    return this.held ? hasHeldLive(m) && !m.closedAll : m.idle.some((s) => s.state === 'live' && s.seen)
  }

  run (_m: PoolModel, r: PoolSystem): Promise<void> { return r.kill(this.i, this.held) }
  toString (): string { return `kill(${this.i}, ${String(this.held)})` }
}

export class Arm implements Cmd {
  constructor (readonly fault: Fault) {}
  check (m: PoolModel): boolean { return m.faults.length < 2 }
  run (_m: PoolModel, r: PoolSystem): Promise<void> { return r.arm(this.fault) }
  toString (): string { return `arm('${this.fault}')` }
}

export class Release implements Cmd {
  constructor (readonly i: number) {}
  check (m: PoolModel): boolean { return hasHung(m) }
  run (_m: PoolModel, r: PoolSystem): Promise<void> { return r.release(this.i) }
  toString (): string { return `release(${this.i})` }
}

export class Advance implements Cmd {
  check (m: PoolModel): boolean { return m.options.recycle >= 0 }
  run (_m: PoolModel, r: PoolSystem): Promise<void> { return r.advance() }
  toString (): string { return 'advance()' }
}

export class Dispose implements Cmd {
  check (): boolean { return true }
  run (_m: PoolModel, r: PoolSystem): Promise<void> { return r.dispose() }
  toString (): string { return 'dispose()' }
}

export class ClosePool implements Cmd {
  check (m: PoolModel): boolean { return !m.closed }
  run (_m: PoolModel, r: PoolSystem): Promise<void> { return r.close() }
  toString (): string { return 'closePool()' }
}

export class Abort implements Cmd {
  constructor (readonly i: number) {}
  check (m: PoolModel): boolean { return hasWaiter(m) }
  run (_m: PoolModel, r: PoolSystem): Promise<void> { return r.abort(this.i) }
  toString (): string { return `abort(${this.i})` }
}

const index = fc.nat({ max: 7 })

export const commandArbitraries: Array<fc.Arbitrary<Cmd>> = [
  fc.constant(new Connect()),
  fc.constant(new Connect()),
  fc.constant(new Connect()),
  index.map((i) => new CloseHandle(i)),
  index.map((i) => new CloseHandle(i)),
  index.map((i) => new Invalidate(i)),
  index.map((i) => new Use(i)),
  fc.tuple(index, fc.boolean()).map(([i, held]) => new Kill(i, held)),
  fc.constantFrom<Fault>('fail', 'hang').map((f) => new Arm(f)),
  index.map((i) => new Release(i)),
  fc.constant(new Advance()),
  fc.constant(new Dispose()),
  fc.constant(new ClosePool()),
  index.map((i) => new Abort(i))
]

export const optionsArbitrary: fc.Arbitrary<ModelOptions> = fc.record({
  poolSize: fc.integer({ min: 0, max: 3 }),
  maxOverflow: fc.integer({ min: -1, max: 2 }),
  useLifo: fc.boolean(),
  recycle: fc.constantFrom(-1, 1000),
  closeTimeout: fc.constantFrom(0, LONG_CLOSE_TIMEOUT)
})

/** Runs one sequence against a fresh pool (always closed at the end); returns the steps run. */
export async function runSequence (options: ModelOptions, cmds: Iterable<Cmd>, url: string, admin: mysql.Connection): Promise<number> {
  const system = new PoolSystem(options, url, admin)
  try {
    await fc.asyncModelRun(() => ({ model: system.model, real: system }), cmds)
    await system.finish()
    return system.steps
  } finally {
    await system.teardown()
  }
}

export interface ModelRunResult { runs: number, commands: number, ms: number, seed: number, failure: string | undefined }

/** The property: any sequence of operations keeps the real pool in step with the model. */
export async function runModel (params: {
  runs: number,
  seed?: number,
  maxCommands?: number,
  url: string,
  admin: mysql.Connection,
  /** Called after every `every` sequences (long runs report as they go). */
  progress?: { every: number, report: (runs: number, steps: number, ms: number) => void }
}): Promise<ModelRunResult> {
  const seed = params.seed ?? Math.floor(Math.random() * 0x7fffffff)
  let commands = 0
  let runs = 0
  const started = Date.now()
  const property = fc.asyncProperty(optionsArbitrary, fc.commands(commandArbitraries, { maxCommands: params.maxCommands ?? 30, size: 'max' }), async (options, cmds) => {
    runs++
    commands += await runSequence(options, cmds, params.url, params.admin)
    if (params.progress !== undefined && runs % params.progress.every === 0) params.progress.report(runs, commands, Date.now() - started)
  })
  const details = await fc.check(property, { numRuns: params.runs, seed, endOnFailure: false })
  return {
    runs,
    commands,
    ms: Date.now() - started,
    seed,
    failure: details.failed ? `${fc.defaultReportMessage(details)}\n${String(details.errorInstance)}` : undefined
  }
}
