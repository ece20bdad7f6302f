/**
 * Fastify's `handlerTimeout` timer keeps running through the onSend hooks: a handler that finished
 * in time can still be answered 503 while the plugin commits its unit of work, leaving a commit
 * behind an error answer (and a retrying client writes twice). Once the handler has produced its
 * answer and the commit starts, the handler's deadline has been met, so the plugin stops the timer.
 *
 * Fastify exposes no public way to do that (reply.hijack() clears it, but also takes the response
 * away), so the timer is found by the description of Fastify's own symbol, once per process. If a
 * future Fastify renames it, nothing is stopped and the race is back, no worse than before.
 */
import type { FastifyRequest } from 'fastify'

const DESCRIPTION = 'fastify.request.timeoutTimer'
let timerKey: symbol | null | undefined

export function stopHandlerTimeout (request: FastifyRequest): void {
  if (timerKey === null) return
  const holder = request as unknown as Record<symbol, unknown>
  if (timerKey === undefined) {
    const found = Object.getOwnPropertySymbols(holder).find((s) => s.description === DESCRIPTION)
    if (found === undefined) return // no handlerTimeout on this route: look again on another request
    timerKey = found
  }
  const timer = holder[timerKey]
  if (timer != null) {
    clearTimeout(timer as NodeJS.Timeout)
    holder[timerKey] = null
  }
}
