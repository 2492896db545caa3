/**
 * POST /v1/authentication: credentials in, a signed access token and a refresh token out (RFC 6749
 * §5.1 names). Every success starts a session (SessionStarted); the access token carries its `sid`.
 */
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import Type from 'typebox'
import { authenticate } from '../../commands/authentication.js'
import { deviceOf, rememberDevice } from '../device-tokens.js'
import { ACCEPT_ILL_FORMED } from '../plugins/validation.js'
import { AccessTokenResponse, problemResponses } from '../schemas/common.js'
import { caughtUp, commandContext, type RouteDeps } from './context.js'

/** Ill-formed Unicode passes here: the use case answers it with the same 401 as any failed sign-in. */
const Credentials = Type.Object({
  username: Type.String({ minLength: 1, maxLength: 256 }),
  password: Type.String({ minLength: 1, maxLength: 4096 })
}, { [ACCEPT_ILL_FORMED]: true })

export const authenticationRoutes: FastifyPluginAsyncTypebox<RouteDeps> = async (app, deps) => {
  app.post('/authentication', {
    config: { auth: false },
    preHandler: app.loginRateLimits,
    schema: {
      tags: ['authentication'],
      summary: 'Exchange a username and password for a bearer token',
      description: 'Every failure (unknown user, wrong password, locked or inactive account) is the same 401.',
      body: Credentials,
      response: { 200: AccessTokenResponse, ...problemResponses(401, 429, 503) }
    }
  }, async (request, reply) => {
    const ctx = commandContext(request, deps)
    const user = await authenticate(deps.commands, {
      ...request.body,
      // A client that signed in to the account before passes a lockout caused elsewhere.
      deviceOf: deviceOf(app.deviceTokens, request),
      clientAddress: request.ip
    }, ctx)
    // A session per sign-in; its refresh token belongs to the built-in public client idm-api.
    const signIn = await deps.oauth.signInApi({
      userId: user.userId,
      credentialVersion: user.credentialVersion,
      clientAddress: request.ip,
      userAgent: request.headers['user-agent'] ?? null
    }, ctx)
    // The token's credential version and session are checked against the read model on every request.
    await caughtUp(deps, signIn.position ?? user.position, reply)
    reply.header('cache-control', 'no-store')
    // The device cookie: this client signed in to this account (see src/http/device-tokens.ts).
    rememberDevice(app.deviceTokens, request, reply, user.userId)
    return { ...app.issueToken({ ...user, sessionId: signIn.sessionId }), refresh_token: signIn.refreshToken }
  })
}
