/**
 * The long model-based run: `npm run test:model -- --runs 20000 [--seed N] [--max-commands 30] [--private-server]`.
 * Prints the figures (sequences, steps, time, seed) and, on failure, the shrunk counterexample
 * (paste it into test/model/counterexamples.test.ts). Exit code 1 on a failure.
 */
import { parseArgs } from 'node:util'
import { adminConnection, databaseUrl, startPrivateServer } from '../helpers/db'
import { runModel } from './commands'

async function main (): Promise<number> {
  const { values } = parseArgs({
    options: {
      runs: { type: 'string', default: '1000' },
      seed: { type: 'string' },
      'max-commands': { type: 'string', default: '30' },
      // A throwaway mariadbd of its own, so a long run can go on beside the test suite.
      'private-server': { type: 'boolean', default: false }
    }
  })
  const server = values['private-server'] ? await startPrivateServer() : undefined
  // Stopped by hand (a long run): take the private server down too.
  for (const signal of ['SIGINT', 'SIGTERM'] as const) {
    process.once(signal, () => { void (server?.remove() ?? Promise.resolve()).finally(() => process.exit(130)) })
  }
  const url = server?.url ?? await databaseUrl()
  const admin = await adminConnection(url)
  try {
    const result = await runModel({
      runs: Number(values.runs),
      seed: values.seed === undefined ? undefined : Number(values.seed),
      maxCommands: Number(values['max-commands']),
      url,
      admin,
      progress: { every: 500, report: (runs, steps, ms) => console.log(`  ${runs} sequences, ${steps} steps, ${(ms / 1000).toFixed(0)} s, no counterexample so far`) }
    })
    const rate = (result.runs / (result.ms / 1000)).toFixed(1)
    console.log(`model run: ${result.runs} sequences (${rate}/s), ${result.commands} steps checked, ${(result.ms / 1000).toFixed(1)} s, seed ${result.seed}`)
    if (result.failure !== undefined) {
      console.log(result.failure)
      return 1
    }
    console.log('no counterexample')
    return 0
  } finally {
    await admin.end()
    await server?.remove()
  }
}

main().then((code) => { process.exitCode = code }, (err: unknown) => {
  console.error(err)
  process.exitCode = 1
})
