/**
 * The request's async context, for `app.db.current()` (SQLAlchemy's scoped_session): route
 * handlers run inside AsyncLocalStorage with their request as the store, so code they call — a
 * service module, a Kysely or Drizzle instance — finds the request's session without being handed
 * the request.
 *
 * Entered by wrapping the route handler (at route registration) rather than with a hook: a hook
 * costs a dispatch per request, and an onRequest hook would lose the context for requests with a
 * body, whose handler runs from the body's 'end' event. The context therefore covers the handler
 * and all it calls, not the hooks before it. `requestContext: false` leaves handlers unwrapped.
 */
import { AsyncLocalStorage } from 'node:async_hooks'
import type { FastifyReply, FastifyRequest } from 'fastify'

export const requestStore = new AsyncLocalStorage<FastifyRequest>()

const kWrapped = Symbol('fastify-db-session.inRequestContext')

type Handler = ((this: unknown, request: FastifyRequest, reply: FastifyReply) => unknown) & { [kWrapped]?: true }

function callHandler (server: unknown, handler: Handler, request: FastifyRequest, reply: FastifyReply): unknown {
  return handler.call(server, request, reply)
}

/** The handler, run in its request's async context (wrapped once, whatever the registrations). */
export function inRequestContext (handler: Handler): Handler {
  if (handler[kWrapped] === true) return handler
  const wrapped: Handler = function handlerInRequestContext (this: unknown, request, reply) {
    return requestStore.run(request, callHandler, this, handler, request, reply)
  }
  wrapped[kWrapped] = true
  return wrapped
}

/** The request whose handler this code runs in, if any. */
export function currentRequest (): FastifyRequest | undefined {
  return requestStore.getStore()
}
