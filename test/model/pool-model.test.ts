/**
 * Quick model-based run (part of `npm test`): a few hundred random sequences of pool operations on
 * a real QueuePool, each step checked against the reference model. The long run is
 * `npm run test:model -- --runs 20000` (test/model/cli.ts).
 */
import t from 'tap'
import { databaseUrl } from '../helpers/db'
import { admin } from '../helpers/pool'
import { runModel } from './commands'

const runs = Number(process.env.MODEL_RUNS ?? 200)

t.test(`${runs} random sequences of pool operations match the reference model`, async (t) => {
  const url = await databaseUrl()
  const result = await runModel({ runs, url, admin: await admin(t, url) })
  t.comment(`model run: ${result.runs} sequences, ${result.commands} steps, ${result.ms} ms, seed ${result.seed}`)
  t.equal(result.failure, undefined, result.failure ?? 'no counterexample')
  t.equal(result.runs, runs)
})
