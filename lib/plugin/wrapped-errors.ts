/**
 * What a client sees when a query builder wraps one of our errors.
 *
 * Our errors never carry SQL or server text: a failed statement is `FST_DB_QUERY_FAILED` and a
 * lost connection a 503 with Retry-After. Drizzle wraps every error of a query in its own
 * `DrizzleQueryError`, whose message is `Failed query: <SQL>\nparams: <values>` and which has no
 * status; Fastify's error handler would answer it as a 500 carrying the SQL and its values, and a
 * lost connection would lose its 503. So an integration entry point registers how to recognise its
 * wrapper, and the plugin's onError hook (which runs before any error handler) gives a recognised
 * wrapper the message, code, status and headers of our error inside it. The wrapper is still the
 * error that is thrown and logged, with its `query`, `params` and `cause`: operators keep the SQL.
 *
 * Nothing is registered unless an integration entry point is loaded, so the hook then costs one
 * length check per failed request.
 *
 * Fastify runs onError once per request: an error raised after an error handler has started (a
 * Drizzle query failing inside a custom error handler) is not seen here, and is the handler's to
 * answer.
 */
import { DbError } from '../errors'

type Recognizer = (error: unknown) => boolean

const recognizers: Recognizer[] = []

/** Called by an integration entry point (once, at load) with a test for its wrapper class. */
export function recognizeWrapper (recognizer: Recognizer): void {
  if (!recognizers.includes(recognizer)) recognizers.push(recognizer)
}

/**
 * A recogniser that throws must not throw out of the onError hook: Fastify would skip every
 * onError hook after ours (an error tracker's, say) and go straight to the error handler.
 */
const recognizes = (error: unknown) => (recognize: Recognizer): boolean => {
  try {
    return recognize(error)
  } catch {
    return false
  }
}

/** Our error inside a recognised wrapper, if `error` is one. */
function wrappedDbError (error: unknown): DbError | undefined {
  if (recognizers.length === 0 || error instanceof DbError) return undefined
  if (!recognizers.some(recognizes(error))) return undefined
  // A wrapper of a wrapper (a retry helper's, say) is still a wrapper: follow the causes a little way.
  let cause = (error as { cause?: unknown }).cause
  for (let depth = 0; depth < 4 && cause !== undefined && cause !== null; depth++) {
    if (cause instanceof DbError) return cause
    cause = (cause as { cause?: unknown }).cause
  }
  return undefined
}

/** Gives a recognised wrapper our error's face; returns whether it did. */
export function exposeWrappedDbError (error: Error): boolean {
  const inner = wrappedDbError(error)
  if (inner === undefined) return false
  Object.defineProperties(error, {
    message: { value: inner.message, writable: true, configurable: true, enumerable: false },
    code: { value: inner.code, writable: true, configurable: true, enumerable: true },
    statusCode: { value: inner.statusCode, writable: true, configurable: true, enumerable: true },
    headers: { value: inner.headers, writable: true, configurable: true, enumerable: false }
  })
  return true
}
