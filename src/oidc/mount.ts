/**
 * oidc-provider (a Koa application) mounted in Fastify as a Node handler. Fastify routes the
 * protocol paths to it and steps aside (`reply.hijack()`): the provider reads the raw body itself
 * (its own size limit) and writes its own response, with the status codes and bodies the RFCs
 * specify (RFC 6749 §5.2 `{"error": …}` at the token endpoint, not problem+json).
 *
 * Paths: `/.well-known/openid-configuration` (the provider's discovery document),
 * `/.well-known/oauth-authorization-server` (RFC 8414: the same document, which oidc-provider does
 * not serve by itself), and everything under `/oauth2/`. The sign-in pages (`/interaction/…`)
 * are ours (src/oidc/interactions.ts).
 */
import type { IncomingMessage, ServerResponse } from 'node:http'
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify'
import type Provider from 'oidc-provider'

export const OAUTH_PREFIX = '/oauth2'

/** Host and X-Forwarded-Proto of the issuer on a request the provider reads (see oidcRoutes). */
export function asIssuerRequest (raw: IncomingMessage, issuer: string): void {
  const { host, protocol } = new URL(issuer)
  const headers = raw.headers
  headers.host = host
  headers['x-forwarded-proto'] = protocol.slice(0, -1)
  delete headers['x-forwarded-host']
  delete headers['x-forwarded-port']
}

export interface OidcMountOptions {
  readonly provider: Provider
  /** The issuer: every URL the provider builds (discovery, redirects) starts with it. */
  readonly issuer: string
}

export async function oidcRoutes (app: FastifyInstance, options: OidcMountOptions): Promise<void> {
  const handler = options.provider.callback() as (req: IncomingMessage, res: ServerResponse) => Promise<void>
  // Leave every body unread: the provider parses its own (form-encoded or JSON).
  app.removeAllContentTypeParsers()
  app.addContentTypeParser('*', (_request, _payload, done) => { done(null, undefined) })

  // oidc-provider builds its URLs from the request's origin; the issuer is the one public origin,
  // whatever Host a client (or a proxy) sent. The provider runs with `proxy` on and reads these
  // two headers, which are always ours: a client's X-Forwarded-* never reach it.
  const forward = async (request: FastifyRequest, reply: FastifyReply, url?: string): Promise<void> => {
    reply.hijack()
    asIssuerRequest(request.raw, options.issuer)
    if (url !== undefined) request.raw.url = url
    await handler(request.raw, reply.raw)
  }
  const hidden = { hide: true }

  app.get('/.well-known/openid-configuration', { schema: hidden }, async (request, reply) => { await forward(request, reply) })
  app.get('/.well-known/oauth-authorization-server', { schema: hidden }, async (request, reply) => {
    await forward(request, reply, '/.well-known/openid-configuration')
  })
  for (const method of ['GET', 'POST', 'OPTIONS'] as const) {
    app.route({ method, url: `${OAUTH_PREFIX}/*`, schema: hidden, handler: async (request, reply) => { await forward(request, reply) } })
  }
}
