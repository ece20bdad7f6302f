/**
 * Counterexamples the model-based run found, shrunk by fast-check and kept as regular tests.
 * Each replays the exact sequence against a real pool with every model check on.
 */
import t from 'tap'
import { databaseUrl } from '../helpers/db'
import { admin } from '../helpers/pool'
import { Abort, Arm, ClosePool, Connect, Dispose, Invalidate, Release, runSequence } from './commands'
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

t.test('a waiter handed a slot that must reconnect rejects at once when aborted, not when the connect ends', async (t) => {
  // Was: the returned slot's reconnect ran outside the abandonable path, so the aborted checkout
  // stayed pending until the (hung) connect finished or connectTimeout expired.
  const url = await databaseUrl()
  const steps = await runSequence({ poolSize: 1, maxOverflow: 0, useLifo: false, recycle: -1, closeTimeout: 0 },
    [new Connect(), new Connect(), new Arm('hang'), new Invalidate(0), new Abort(0)], url, await admin(t, url))
  t.ok(steps >= 5)
})

t.test('a slot reconnected for an aborted checkout goes to the next waiter with its new connection', async (t) => {
  // A model fix (the slot's connection changed while nobody held it), kept so the case stays covered.
  const url = await databaseUrl()
  const steps = await runSequence({ poolSize: 1, maxOverflow: 0, useLifo: false, recycle: -1, closeTimeout: 0 },
    [new Connect(), new Arm('hang'), new Invalidate(0), new Connect(), new Abort(0), new Connect(), new Release(0)], url, await admin(t, url))
  t.ok(steps >= 7)
})
