/**
 * Stops statements on other connections with `KILL QUERY` / `KILL CONNECTION`, sent through one
 * side connection: opened at the first need, reused, one KILL at a time, and closed after a second
 * without kills, so at rest the server sees only pooled connections. A connection per KILL would
 * churn the server's connection limit under a storm of client aborts.
 */
import { coreOf, destroyConnection, endConnection, endpointOf, withDeadline, type DriverConnection } from './driver'
import type { PoolLogger } from './logger'

/** The side connection is closed after this long without kills. */
const IDLE_MS = 1000

export class StatementKiller {
  readonly #open: () => Promise<DriverConnection>
  readonly #timeout: number
  readonly #log: PoolLogger
  #control: Promise<DriverConnection> | undefined = undefined
  #idleTimer: NodeJS.Timeout | undefined = undefined
  #queue: Promise<unknown> = Promise.resolve()

  /** `open` makes a connection like the pool's; `timeout` bounds each KILL and the final close. */
  constructor (open: () => Promise<DriverConnection>, timeout: number, log: PoolLogger) {
    this.#open = open
    this.#timeout = timeout
    this.#log = log
  }

  /**
   * Kills the statement (or connection) of server thread `threadId` of the server at `endpoint`.
   * Resolves true when it is stopped or already gone, false when it could not be killed.
   */
  kill (threadId: number, what: 'QUERY' | 'CONNECTION', endpoint: string): Promise<boolean> {
    const result = this.#queue.then(() => this.#run(threadId, what, endpoint))
    this.#queue = result
    if (this.#idleTimer !== undefined) clearTimeout(this.#idleTimer)
    this.#idleTimer = setTimeout(() => {
      this.#idleTimer = undefined
      void this.#queue.then(() => {
        if (this.#idleTimer === undefined) void this.#closeControl()
      })
    }, IDLE_MS)
    this.#idleTimer.unref()
    return result
  }

  /** Waits for queued KILLs, then closes the side connection. */
  async close (): Promise<void> {
    await this.#queue
    if (this.#idleTimer !== undefined) clearTimeout(this.#idleTimer)
    await this.#closeControl()
  }

  async #run (threadId: number, what: 'QUERY' | 'CONNECTION', endpoint: string): Promise<boolean> {
    const control = this.#control ??= this.#openControl()
    try {
      const admin = await control
      // A thread id means something only on its own server: behind DNS round-robin or a
      // balancing creator the side connection may have reached another one.
      if (endpointOf(admin) !== endpoint) {
        this.#log.debug({ threadId, endpoint }, 'Not killing: the side connection reached another server')
        return false
      }
      await withDeadline(admin.query(`KILL ${what} ?`, [threadId]), this.#timeout, 'kill', () => destroyConnection(admin))
      return true
    } catch (err) {
      if ((err as { code?: unknown }).code === 'ER_NO_SUCH_THREAD') return true
      this.#log.debug({ err, threadId }, 'Could not kill an abandoned statement')
      this.#drop(control)
      return false
    }
  }

  async #openControl (): Promise<DriverConnection> {
    const conn = await this.#open()
    const core = coreOf(conn)
    const control = this.#control
    core.on('error', noop)
    core.on('end', () => { if (control !== undefined) this.#drop(control) })
    return conn
  }

  #drop (control: Promise<DriverConnection>): void {
    if (this.#control !== control) return
    this.#control = undefined
    control.then((conn) => destroyConnection(conn), noop)
  }

  async #closeControl (): Promise<void> {
    const control = this.#control
    this.#control = undefined
    if (control !== undefined) await control.then((conn) => endConnection(conn, this.#timeout), noop)
  }
}

function noop (): void {}
