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
  }

  /** Stops and writes the profile to `file`. */
  async stop (file: string): Promise<void> {
    const { profile } = await this.#post('Profiler.stop') as { profile: unknown }
    fs.writeFileSync(file, JSON.stringify(profile))
    this.#session.disconnect()
  }
}
