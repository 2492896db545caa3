/**
 * POST /v1/authentication: credentials in, a signed access token and a refresh token out (RFC 6749
 * §5.1 names). Every success starts a session (SessionStarted); the access token carries its `sid`
 * and `amr`. A user with a second factor signs in in two steps: the password answers
 * `{ mfa_required, mfa_token, methods }`, and POST /v1/authentication/mfa completes it.
 * POST /v1/authentication/step-up proves a factor again for the operations that need a recent one.
 */
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import type { FastifyReply, FastifyRequest } from 'fastify'
import Type from 'typebox'
import { authenticate, completeSecondFactor, stepUp, type Authenticated } from '../../commands/authentication.js'
import { AuthenticationError } from '../../commands/errors.js'
import { requiresSecondFactor, showsSecondFactor } from '../auth/second-factor.js'
import { deviceOf, rememberDevice } from '../device-tokens.js'
import { boundAttempt } from '../mfa-tokens.js'
import { ACCEPT_ILL_FORMED } from '../plugins/validation.js'
import { AccessTokenResponse, problemResponses } from '../schemas/common.js'
import { caughtUp, commandContext, type RouteDeps } from './context.js'

/** Ill-formed Unicode passes here: the use case answers it with the same 401 as any failed sign-in. */
const Credentials = Type.Object({
  username: Type.String({ minLength: 1, maxLength: 256 }),
  password: Type.String({ minLength: 1, maxLength: 4096 })
}, { [ACCEPT_ILL_FORMED]: true })

const Method = Type.Union([Type.Literal('totp'), Type.Literal('recovery')], {
  description: 'totp: the 6 digits of the authenticator app; recovery: one of the recovery codes (webauthn: not built yet)'
})

const SecondStep = Type.Object({
  mfa_token: Type.String({ minLength: 1, maxLength: 512 }),
  method: Method,
  code: Type.String({ minLength: 1, maxLength: 64 })
}, { additionalProperties: false, [ACCEPT_ILL_FORMED]: true })

const StepUpBody = Type.Object({ method: Method, code: Type.String({ minLength: 1, maxLength: 64 }) }, { additionalProperties: false })

const SignedIn = Type.Object({
  ...AccessTokenResponse.properties,
  mfa_enrolment_required: Type.Optional(Type.Literal(true, {
    description: 'Your role requires a second factor and you have none: this token only reads /v1/users/me, enrols a factor and signs out. Enrol, then sign in again.'
  }))
}, { additionalProperties: false })

const MfaRequired = Type.Object({
  mfa_required: Type.Literal(true),
  mfa_token: Type.String({ description: 'Single use, short-lived (IDM_MFA_TOKEN_TTL): send it to POST /v1/authentication/mfa with a code' }),
  methods: Type.Array(Type.Union([Type.Literal('totp'), Type.Literal('recovery')])),
  expires_in: Type.Integer({ description: 'Seconds until the mfa_token expires' })
}, { additionalProperties: false })

const StepUpResponse = Type.Object({ ...AccessTokenResponse.properties }, { additionalProperties: false })

export const authenticationRoutes: FastifyPluginAsyncTypebox<RouteDeps> = async (app, deps) => {
  /** The end of every successful sign-in: a session, the read model caught up, the device cookie, the token. */
  async function signedIn (request: FastifyRequest, reply: FastifyReply, user: Authenticated, amr: readonly string[]) {
    const ctx = commandContext(request, deps)
    // A session per sign-in; its refresh token belongs to the built-in public client idm-api.
    const signIn = await deps.oauth.signInApi({
      userId: user.userId,
      credentialVersion: user.credentialVersion,
      clientAddress: request.ip,
      userAgent: request.headers['user-agent'] ?? null,
      amr
    }, ctx)
    // The token's credential version and session are checked against the read model on every request.
    await caughtUp(deps, signIn.position ?? user.position, reply)
    reply.header('cache-control', 'no-store')
    // The device cookie: this client signed in to this account (see src/http/device-tokens.ts).
    rememberDevice(app.deviceTokens, request, reply, user.userId)
    const mustEnrol = !showsSecondFactor(amr) && requiresSecondFactor(app.secondFactor, user.roles)
    return {
      ...app.issueToken({ ...user, sessionId: signIn.sessionId, amr }),
      refresh_token: signIn.refreshToken,
      ...(mustEnrol ? { mfa_enrolment_required: true as const } : {})
    }
  }

  app.post('/authentication', {
    config: { auth: false },
    preHandler: app.loginRateLimits,
    schema: {
      tags: ['authentication'],
      summary: 'Exchange a username and password for a bearer token (or, with a second factor, for an mfa_token)',
      description: 'Every failure (unknown user, wrong password, locked or inactive account) is the same 401. A user with a second factor gets `mfa_required` and an `mfa_token` for POST /v1/authentication/mfa instead of a token.',
      body: Credentials,
      response: { 200: Type.Union([SignedIn, MfaRequired]), ...problemResponses(401, 429, 503) }
    }
  }, async (request, reply) => {
    const step = await authenticate(deps.commands, {
      ...request.body,
      // A client that signed in to the account before passes a lockout caused elsewhere.
      deviceOf: deviceOf(app.deviceTokens, request),
      clientAddress: request.ip
    }, commandContext(request, deps))
    if (step.step === 'complete') return await signedIn(request, reply, step, step.amr)
    const challenge = app.mfaTokens.issue(step.userId, step.credentialVersion)
    reply.header('cache-control', 'no-store')
    return { mfa_required: true as const, mfa_token: challenge.token, methods: [...step.methods], expires_in: app.mfaTokens.ttlSeconds }
  })

  app.post('/authentication/mfa', {
    config: { auth: false },
    preHandler: app.loginRateLimits,
    schema: {
      tags: ['authentication'],
      summary: 'Complete a sign-in with its second factor',
      description: 'Every failure (expired, used or forged mfa_token, wrong or replayed code, locked account) is the same 401; a wrong code counts toward the lockout like a wrong password.',
      body: SecondStep,
      response: { 200: SignedIn, ...problemResponses(401, 429, 503) }
    }
  }, async (request, reply) => {
    const { mfa_token: token, method, code } = request.body
    const challenge = app.mfaTokens.verify(token)
    if (challenge === null) throw new AuthenticationError()
    const user = await completeSecondFactor(deps.mfa, {
      ...boundAttempt(challenge),
      method,
      code,
      deviceOf: deviceOf(app.deviceTokens, request),
      clientAddress: request.ip
    }, commandContext(request, deps))
    return await signedIn(request, reply, user, user.amr)
  })

  app.post('/authentication/step-up', {
    config: { auth: {} },
    schema: {
      tags: ['authentication'],
      summary: 'Prove a second factor again: a new access token for the same session, fresh for step-up operations',
      description: 'For the operations that need a recent second factor (IDM_STEP_UP_SECONDS). A wrong code is the usual 401 and counts toward the lockout.',
      body: StepUpBody,
      response: { 200: StepUpResponse, ...problemResponses(429, 503) }
    }
  }, async (request, reply) => {
    const principal = request.principal!
    if (principal.kind !== 'user') throw new AuthenticationError()
    const used = await stepUp(deps.mfa, principal.userId, request.body, commandContext(request, deps))
    await caughtUp(deps, used.position, reply)
    reply.header('cache-control', 'no-store')
    const claims = request.user as { sid?: string, cv?: number, companies?: string[] }
    const amr = [...new Set([...principal.amr, used.amr])]
    return app.issueToken({
      userId: principal.userId,
      username: principal.username,
      roles: principal.roles,
      credentialVersion: claims.cv ?? 0,
      ...(claims.sid === undefined ? {} : { sessionId: claims.sid }),
      amr,
      // Company roles as the read model has them now; the links as the signed-in token had them.
      companies: claims.companies ?? [],
      companyRoles: principal.companyRoles
    })
  })
}
