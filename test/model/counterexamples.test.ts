/**
 * Counterexamples the model-based run found, shrunk by fast-check and kept as regular tests.
 * Each replays the exact sequence against a real pool with every model check on.
 */
import t from 'tap'
import { databaseUrl } from '../helpers/db'
import { admin } from '../helpers/pool'
import { Arm, ClosePool, Connect, Dispose, runSequence } from './commands'
import { LONG_CLOSE_TIMEOUT } from './pool-system'

t.test('close() after dispose() waits for a connection checked out before the dispose', async (t) => {
  // Was: close() resolved at once (the slot was forgotten by dispose) while the connection stayed open.
  const url = await databaseUrl()
  const steps = await runSequence({ poolSize: 0, maxOverflow: 0, useLifo: false, recycle: -1, closeTimeout: LONG_CLOSE_TIMEOUT },
    [new Connect(), new Dispose(), new ClosePool()], url, await admin(t, url))
  t.ok(steps >= 3)
})

t.test('a connect still opening when closeTimeout expires is refused and its connection closed', async (t) => {
  // Was: the late connection was handed out, open, from the closed pool.
  const url = await databaseUrl()
  const steps = await runSequence({ poolSize: 0, maxOverflow: 0, useLifo: false, recycle: -1, closeTimeout: 0 },
    [new Arm('hang'), new Connect(), new ClosePool(), new Connect()], url, await admin(t, url))
  t.ok(steps >= 4)
})
