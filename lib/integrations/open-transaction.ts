/**
 * A query builder's own transaction on one of our sessions. Kysely and Drizzle drive transactions
 * as begin / commit / rollback calls; the session offers `transaction(fn)`, which already knows to
 * use a SAVEPOINT inside an open transaction (the request's unit of work, or an outer
 * transaction) and to BEGIN otherwise. This holds `fn` open between begin and commit/rollback so
 * both builders get exactly the session's nesting rules.
 */
import { InvalidOptionError, TransactionStateError } from '../errors'
import type { Session } from '../session/session'

export type IsolationLevel = 'READ UNCOMMITTED' | 'READ COMMITTED' | 'REPEATABLE READ' | 'SERIALIZABLE'

export interface TransactionSettings {
  isolationLevel?: string | undefined
  readOnly?: boolean | undefined
}

const ISOLATION_LEVELS: readonly IsolationLevel[] = ['READ UNCOMMITTED', 'READ COMMITTED', 'REPEATABLE READ', 'SERIALIZABLE']

export interface OpenTransaction {
  /** COMMIT, or RELEASE SAVEPOINT when nested. */
  commit: () => Promise<void>
  /** ROLLBACK, or ROLLBACK TO SAVEPOINT when nested. */
  rollback: () => Promise<void>
}

/** Thrown into the held `fn` so that the session undoes the transaction (or savepoint). */
const ROLLBACK_REQUESTED = new Error('rollback requested by the query builder')

function noop (): void {}

/** `SET TRANSACTION …` for the next transaction, or undefined when nothing is asked for. */
function characteristics (settings: TransactionSettings | undefined): string | undefined {
  const parts: string[] = []
  const level = settings?.isolationLevel
  if (level !== undefined) {
    const upper = level.toUpperCase().replace(/\s+/g, ' ').trim() as IsolationLevel
    if (!ISOLATION_LEVELS.includes(upper)) {
      throw new InvalidOptionError('isolationLevel', `isolationLevel must be one of ${ISOLATION_LEVELS.map((l) => `'${l}'`).join(', ')} (MySQL/MariaDB), got ${JSON.stringify(level)}`)
    }
    parts.push(`ISOLATION LEVEL ${upper}`)
  }
  if (settings?.readOnly !== undefined) parts.push(settings.readOnly ? 'READ ONLY' : 'READ WRITE')
  return parts.length === 0 ? undefined : `SET TRANSACTION ${parts.join(', ')}`
}

/**
 * Begins a transaction on `session` (a savepoint when one is already open or the session is a
 * request's unit of work) and returns how to end it. Resolves once BEGIN/SAVEPOINT has run.
 */
export async function openTransaction (session: Session, settings?: TransactionSettings): Promise<OpenTransaction> {
  const set = characteristics(settings)
  if (set !== undefined) {
    // MySQL applies SET TRANSACTION to the next transaction only; a savepoint inside a running
    // transaction cannot change them (ER_CANT_CHANGE_TX_CHARACTERISTICS).
    if (session.inTransaction || session.isUnitOfWork) {
      throw new TransactionStateError('An isolation level or access mode cannot be set on a nested transaction (a savepoint inside the request\'s transaction); set it on the outer transaction or the route')
    }
    await session.query(set)
  }
  let decide: (commit: boolean) => void = noop
  const decision = new Promise<boolean>((resolve) => { decide = resolve })
  let begun: () => void = noop
  const started = new Promise<void>((resolve) => { begun = resolve })
  const done = session.transaction(async () => {
    begun()
    if (!await decision) throw ROLLBACK_REQUESTED
  })
  done.catch(noop) // settled through commit()/rollback(); never an unhandled rejection
  // `done` rejects first when BEGIN (or SAVEPOINT) itself failed.
  await Promise.race([started, done])
  let ended = false
  const end = (commit: boolean): void => {
    if (ended) throw new TransactionStateError('This transaction was already committed or rolled back')
    ended = true
    decide(commit)
  }
  return {
    async commit () {
      end(true)
      await done
    },
    async rollback () {
      end(false)
      await done.catch((err: unknown) => {
        if (err !== ROLLBACK_REQUESTED) throw err
      })
    }
  }
}
