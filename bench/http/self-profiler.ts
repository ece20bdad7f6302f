/**
 * Child side of the CPU profile section: the server process profiles itself through its own
 * inspector session, only between 'profile-start' and 'profile-stop' (so start-up and warm-up
 * stay out of the profile).
 */
import fs from 'node:fs'
import inspector from 'node:inspector'

export const SAMPLING_INTERVAL_US = 100

/** Child side: a profiler session over the process's own inspector. */
export class SelfProfiler {
  readonly #session = new inspector.Session()
  #cpuAtStart: NodeJS.CpuUsage | undefined

  #post (method: string, params?: object): Promise<unknown> {
    return new Promise((resolve, reject) => {
      this.#session.post(method, params, (err, result) => (err === null ? resolve(result) : reject(err)))
    })
  }

  async start (): Promise<void> {
    this.#session.connect()
    await this.#post('Profiler.enable')
    await this.#post('Profiler.setSamplingInterval', { interval: SAMPLING_INTERVAL_US })
    await this.#post('Profiler.start')
    this.#cpuAtStart = process.cpuUsage()
  }

  /**
   * Stops and writes the profile to `file`; returns the CPU time (user + system, µs) the process
   * really used meanwhile. The profile's samples are wall-clock: on a busy machine a descheduled
   * thread's wait lands in its next sample, so shares come from the profile, totals from here.
   */
  async stop (file: string): Promise<number> {
    const cpu = process.cpuUsage(this.#cpuAtStart)
    const { profile } = await this.#post('Profiler.stop') as { profile: unknown }
    fs.writeFileSync(file, JSON.stringify(profile))
    this.#session.disconnect()
    return cpu.user + cpu.system
  }
}
