/**
 * Request ids: a client's `x-request-id` is kept when it is 1–128 characters of
 * `A-Z a-z 0-9 . _ -`, otherwise replaced by a new UUID. It is `request.id`, appears in every
 * log line of the request, and is echoed on every response (errors and 404s included).
 */
import { randomUUID } from 'node:crypto'
import type { IncomingMessage } from 'node:http'
import { globalPlugin } from './global.js'

export const REQUEST_ID_HEADER = 'x-request-id'
const VALID = /^[A-Za-z0-9._-]{1,128}$/

/** Fastify's `genReqId` (with `requestIdHeader: false`, so Fastify never trusts the header itself). */
export function genReqId (request: IncomingMessage): string {
  const given = request.headers[REQUEST_ID_HEADER]
  return typeof given === 'string' && VALID.test(given) ? given : randomUUID()
}

export const requestIdPlugin = globalPlugin('idm-request-id', async (app) => {
  // A callback hook: an async one costs a promise and a microtask per request, for nothing here.
  app.addHook('onRequest', (request, reply, done) => {
    reply.header(REQUEST_ID_HEADER, request.id)
    done()
  })
})
