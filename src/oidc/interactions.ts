/**
 * The sign-in pages of the authorization code flow: oidc-provider's interactions, served here.
 * `/oauth2/authorize` sends a browser that must sign in (or, for a third-party client, consent)
 * to `/interaction/<uid>`; the page posts back to `/interaction/<uid>/login` (or `/consent`);
 * the answer is a 303 to the provider's own resume URL (`/oauth2/auth/<uid>`), never to
 * anything the request names, so these pages cannot be made to redirect elsewhere.
 *
 * - **The password step is POST /v1/authentication's**: the same `authenticate` command (one KDF
 *   run per attempt, the lockout, the idm_device cookie), the same two rate limits (per address
 *   and per username), and one message for every failure.
 * - **Steps.** `passwordStep` verifies the password; for a user with a second factor, a code
 *   page posts to `/interaction/<uid>/mfa` (`secondFactorStep`, the mfa_token in the form);
 *   `finishSignIn` starts the session (with its amr) and ends the interaction.
 * - **CSRF.** A POST must carry oidc-provider's interaction cookie (signed, HttpOnly,
 *   SameSite=Lax: a browser does not send it with a cross-site POST) for this very uid, and is
 *   refused when the browser says it came from another origin (`Origin`, `Sec-Fetch-Site`).
 * - **SSO.** A browser that signed in once has oidc-provider's session cookie; the next client's
 *   authorize skips this page while the session lives (src/oidc/provider.ts, loadExistingGrant).
 */
import type { FastifyInstance, FastifyPluginAsync, FastifyReply, FastifyRequest } from 'fastify'
import type Provider from 'oidc-provider'
import { authenticate, completeSecondFactor, type Authenticated, type PasswordStep } from '../commands/authentication.js'
import { AuthenticationError } from '../commands/errors.js'
import { deviceOf, rememberDevice } from '../http/device-tokens.js'
import { boundAttempt } from '../http/mfa-tokens.js'
import { HttpProblem } from '../http/plugins/problems.js'
import { caughtUp, commandContext, type RouteDeps } from '../http/routes/context.js'
import { asIssuerRequest } from './mount.js'
import { errorPage, escapeHtml, page, pageCsp } from './pages.js'
import { INTERACTION_PREFIX, type SignInResult } from './provider.js'
import type { OAuthService } from './service.js'

export interface InteractionOptions extends RouteDeps {
  readonly provider: Provider
  readonly oauth: OAuthService
  readonly issuer: string
  readonly stylesheet: string | null
}

type Interaction = Awaited<ReturnType<Provider['interactionDetails']>>

/** The one message of every failed sign-in: it never says which part was wrong. */
export const SIGN_IN_FAILED = 'The username or password is not correct.'
const UID = /^[A-Za-z0-9_-]{1,64}$/
const MAX_FORM_BYTES = 16 * 1024

/** What a step of the sign-in page works with. */
export interface SignInStep {
  readonly app: FastifyInstance
  readonly request: FastifyRequest
  readonly reply: FastifyReply
  readonly interaction: Interaction
  readonly options: InteractionOptions
}

class PageRefusal extends Error {
  constructor (readonly status: number, readonly title: string, message: string, readonly headers: Record<string, string> = {}) { super(message) }
}

export const interactionRoutes: FastifyPluginAsync<InteractionOptions> = async (app, options) => {
  // Forms post application/x-www-form-urlencoded (this plugin only; /v1 stays JSON-only).
  app.addContentTypeParser('application/x-www-form-urlencoded', { parseAs: 'string', bodyLimit: MAX_FORM_BYTES }, (_request, body, done) => {
    const form: Record<string, string> = Object.create(null) as Record<string, string>
    for (const [key, value] of new URLSearchParams(body as string)) form[key] = value
    done(null, form)
  })
  const route = { schema: { hide: true }, config: { auth: false as const } }

  app.get(`${INTERACTION_PREFIX}/:uid`, route, async (request, reply) => {
    await asPage(options, reply, async () => {
      const interaction = await load(options, request, reply)
      if (interaction.prompt.name === 'login') return loginPage(options, reply, interaction, { status: 200 })
      if (interaction.prompt.name === 'consent') return consentPage(options, reply, interaction)
      throw new PageRefusal(400, 'Sign-in error', 'This step of the sign-in is not supported.')
    })
  })

  app.post(`${INTERACTION_PREFIX}/:uid/login`, route, async (request, reply) => {
    await asPage(options, reply, async () => {
      const interaction = await loadForPost(options, request, reply, 'login')
      await signInSteps({ app, request, reply, interaction, options })
    })
  })

  app.post(`${INTERACTION_PREFIX}/:uid/mfa`, route, async (request, reply) => {
    await asPage(options, reply, async () => {
      const interaction = await loadForPost(options, request, reply, 'login')
      await secondFactorStep({ app, request, reply, interaction, options })
    })
  })

  app.post(`${INTERACTION_PREFIX}/:uid/consent`, route, async (request, reply) => {
    await asPage(options, reply, async () => {
      const interaction = await loadForPost(options, request, reply, 'consent')
      const form = formOf(request)
      const { provider } = options
      let result: Record<string, unknown>
      if (form.decision !== 'allow') {
        result = { error: 'access_denied', error_description: 'the user did not allow the request' }
      } else {
        const accountId = interaction.session?.accountId
        if (accountId === undefined) throw new PageRefusal(400, 'Sign-in error', 'Sign in first.')
        const grant = (interaction.grantId === undefined ? undefined : await provider.Grant.find(interaction.grantId)) ??
          new provider.Grant({ accountId, clientId: String(interaction.params.client_id) })
        const details = interaction.prompt.details as { missingOIDCScope?: string[], missingOIDCClaims?: string[], missingResourceScopes?: Record<string, string[]> }
        if (details.missingOIDCScope !== undefined) grant.addOIDCScope(details.missingOIDCScope.join(' '))
        if (details.missingOIDCClaims !== undefined) grant.addOIDCClaims(details.missingOIDCClaims)
        for (const [indicator, scopes] of Object.entries(details.missingResourceScopes ?? {})) grant.addResourceScope(indicator, scopes.join(' '))
        result = { consent: { grantId: await grant.save() } }
      }
      await finishInteraction(options, request, reply, result)
    })
  })
}

/**
 * The steps of a sign-in, in order: the password, then, for a user with a second factor, its
 * code (the same `completeSecondFactor` as POST /v1/authentication/mfa: the mfa_token, the
 * lockout, one failure message), then `finishSignIn` with the methods used.
 */
export async function signInSteps (step: SignInStep): Promise<void> {
  const user = await passwordStep(step)
  if (user === null) return
  if (user.step === 'complete') {
    await finishSignIn(step, user, user.amr)
    return
  }
  const challenge = step.app.mfaTokens.issue(user.userId, user.credentialVersion)
  secondFactorPage(step.options, step.reply, step.interaction, { status: 200, mfaToken: challenge.token, methods: user.methods })
}

/** The second step: the code for the mfa_token the page carries. */
async function secondFactorStep (step: SignInStep): Promise<void> {
  const { app, request, reply, interaction, options } = step
  const form = formOf(request)
  const mfaToken = typeof form.mfa_token === 'string' ? form.mfa_token.slice(0, 512) : ''
  const method = form.method === 'recovery' ? 'recovery' : 'totp'
  const code = typeof form.code === 'string' ? form.code.slice(0, 64) : ''
  const challenge = app.mfaTokens.verify(mfaToken)
  if (challenge === null) {
    loginPage(options, reply, interaction, { status: 401, message: 'This sign-in took too long or was already used. Sign in again.' })
    return
  }
  const again = (status: number, message: string): void =>
    secondFactorPage(options, reply, interaction, { status, mfaToken, methods: ['totp', 'recovery'], message })
  try {
    for (const limit of app.loginRateLimits) await limit.call(app, request, reply)
  } catch (error) {
    if (error instanceof HttpProblem && error.problem.status === 429) return again(429, 'Too many sign-in attempts. Wait a minute, then try again.')
    throw error
  }
  try {
    const user = await completeSecondFactor(options.mfa, {
      ...boundAttempt(challenge),
      method,
      code,
      deviceOf: deviceOf(app.deviceTokens, request),
      clientAddress: request.ip
    }, commandContext(request, options))
    await finishSignIn(step, user, user.amr)
  } catch (error) {
    if (!(error instanceof AuthenticationError)) throw error
    again(401, SECOND_FACTOR_FAILED)
  }
}

/** The one message of every failed second step. */
export const SECOND_FACTOR_FAILED = 'The code is not correct, or it was already used.'

interface SecondFactorPageState { readonly status: number, readonly mfaToken: string, readonly methods: readonly string[], readonly message?: string }

function secondFactorPage (options: InteractionOptions, reply: FastifyReply, interaction: Interaction, state: SecondFactorPageState): void {
  const message = state.message === undefined ? '' : `\n<p role="alert" id="sign-in-error"><strong>${escapeHtml(state.message)}</strong></p>`
  const action = `${INTERACTION_PREFIX}/${escapeHtml(interaction.uid)}/mfa`
  const recovery = state.methods.includes('recovery')
    ? `\n<details><summary>Use a recovery code instead</summary>
<form method="post" action="${action}">
<input type="hidden" name="mfa_token" value="${escapeHtml(state.mfaToken)}">
<input type="hidden" name="method" value="recovery">
<label for="recovery-code">Recovery code</label>
<input id="recovery-code" name="code" autocomplete="off" autocapitalize="none" spellcheck="false" required maxlength="64">
<button type="submit" class="secondary">Sign in with a recovery code</button>
</form></details>`
    : ''
  const html = page({
    title: 'Verify it is you',
    stylesheet: options.stylesheet,
    body: `<header>
<h1>Verify it is you</h1>
<p>Enter the 6-digit code from your authenticator app to continue to <strong>${escapeHtml(clientName(options, interaction))}</strong>.</p>
</header>${message}
<form method="post" action="${action}">
<input type="hidden" name="mfa_token" value="${escapeHtml(state.mfaToken)}">
<input type="hidden" name="method" value="totp">
<label for="code">Code</label>
<input id="code" name="code" inputmode="numeric" pattern="[0-9 ]{6,7}" autocomplete="one-time-code" required maxlength="7" autofocus${state.message === undefined ? '' : ' aria-describedby="sign-in-error"'}>
<button type="submit">Verify</button>
</form>${recovery}`
  })
  sendPage(reply, state.status, html, redirectTargets(interaction))
}

/**
 * The password step: POST /v1/authentication's rate limits and `authenticate` command. Returns
 * the user, or null once it has answered the page again with the one failure message.
 */
export async function passwordStep (step: SignInStep): Promise<PasswordStep | null> {
  const { app, request, reply, interaction, options } = step
  const form = formOf(request)
  const username = typeof form.username === 'string' ? form.username : ''
  const password = typeof form.password === 'string' ? form.password : ''
  if (username === '' || password === '' || username.length > 256 || password.length > 4096) {
    loginPage(options, reply, interaction, { status: 400, username: username.slice(0, 256), message: SIGN_IN_FAILED })
    return null
  }
  try {
    for (const limit of app.loginRateLimits) await limit.call(app, request, reply)
  } catch (error) {
    if (error instanceof HttpProblem && error.problem.status === 429) {
      const retryAfter = error.problem.headers?.['retry-after']
      loginPage(options, reply, interaction, {
        status: 429,
        username,
        message: 'Too many sign-in attempts. Wait a minute, then try again.',
        ...(retryAfter === undefined ? {} : { retryAfter: String(retryAfter) })
      })
      return null
    }
    throw error
  }
  try {
    return await authenticate(options.commands, {
      username,
      password,
      deviceOf: deviceOf(app.deviceTokens, request),
      clientAddress: request.ip
    }, commandContext(request, options))
  } catch (error) {
    if (!(error instanceof AuthenticationError)) throw error
    loginPage(options, reply, interaction, { status: 401, username, message: SIGN_IN_FAILED })
    return null
  }
}

/** The last step: a session (SessionStarted) for the browser, the device cookie, back to the provider. */
export async function finishSignIn (step: SignInStep, user: Authenticated, amr: readonly string[]): Promise<void> {
  const { app, request, reply, interaction, options } = step
  const ctx = commandContext(request, options)
  const session = await options.oauth.signInBrowser({
    userId: user.userId,
    credentialVersion: user.credentialVersion,
    clientId: String(interaction.params.client_id),
    amr,
    clientAddress: request.ip,
    userAgent: request.headers['user-agent'] ?? null
  }, ctx)
  // The session must be in the index before the client redeems its code.
  await caughtUp(options, session.position ?? user.position)
  rememberDevice(app.deviceTokens, request, reply, user.userId)
  const idm: SignInResult = { sessionId: session.sessionId }
  await finishInteraction(options, request, reply, { login: { accountId: user.userId, amr: [...amr], remember: true }, idm })
}

async function finishInteraction (options: InteractionOptions, request: FastifyRequest, reply: FastifyReply, result: Record<string, unknown>): Promise<void> {
  asIssuerRequest(request.raw, options.issuer)
  const returnTo = await options.provider.interactionResult(request.raw, reply.raw, result, { mergeWithLastSubmission: false })
  // returnTo is the provider's resume URL on the issuer, built by the provider: never request input.
  reply.code(303).header('location', returnTo).header('cache-control', 'no-store').send()
}

/** The interaction of this browser (its cookie) for the uid in the path, or a refusal. */
async function load (options: InteractionOptions, request: FastifyRequest, reply: FastifyReply): Promise<Interaction> {
  const uid = (request.params as { uid: string }).uid
  const expired = new PageRefusal(400, 'Sign-in expired', 'This sign-in has expired or was started in another browser. Go back to the application and sign in again.')
  if (!UID.test(uid)) throw expired
  asIssuerRequest(request.raw, options.issuer)
  let interaction: Interaction
  try {
    interaction = await options.provider.interactionDetails(request.raw, reply.raw)
  } catch {
    throw expired
  }
  if (interaction.uid !== uid) throw expired
  return interaction
}

async function loadForPost (options: InteractionOptions, request: FastifyRequest, reply: FastifyReply, prompt: string): Promise<Interaction> {
  // A form of this origin only: a browser names a cross-site POST's origin in both headers.
  const origin = request.headers.origin
  const site = request.headers['sec-fetch-site']
  if ((origin !== undefined && origin !== new URL(options.issuer).origin) || (site !== undefined && site !== 'same-origin')) {
    throw new PageRefusal(403, 'Sign-in refused', 'This form was not sent from the sign-in page.')
  }
  const interaction = await load(options, request, reply)
  if (interaction.prompt.name !== prompt) throw new PageRefusal(400, 'Sign-in error', 'This step of the sign-in is already done. Go back to the application and sign in again.')
  return interaction
}

const formOf = (request: FastifyRequest): Record<string, string | undefined> =>
  typeof request.body === 'object' && request.body !== null ? request.body as Record<string, string> : {}

/** Runs a page handler; a refusal or an API problem becomes an HTML page with its status. */
async function asPage (options: InteractionOptions, reply: FastifyReply, handler: () => Promise<void>): Promise<void> {
  try {
    await handler()
  } catch (error) {
    if (error instanceof PageRefusal) {
      sendPage(reply, error.status, errorPage(options.stylesheet, error.title, error.message), [], error.headers)
      return
    }
    if (error instanceof HttpProblem && error.problem.status < 500) {
      sendPage(reply, error.problem.status, errorPage(options.stylesheet, 'Sign-in error', error.message))
      return
    }
    throw error
  }
}

function sendPage (reply: FastifyReply, status: number, html: string, formTargets: readonly string[] = [], headers: Record<string, string> = {}): void {
  reply.code(status)
    .header('content-type', 'text/html; charset=utf-8')
    .header('cache-control', 'no-store')
    .header('content-security-policy', pageCsp(formTargets))
    .headers(headers)
    .send(html)
}

const clientName = (options: InteractionOptions, interaction: Interaction): string => {
  const clientId = String(interaction.params.client_id)
  return options.oauth.clients.active(clientId)?.name ?? clientId
}

/** The form's answer redirects (via the provider) to the client's redirect_uri, checked exactly by the provider. */
const redirectTargets = (interaction: Interaction): string[] =>
  typeof interaction.params.redirect_uri === 'string' ? [interaction.params.redirect_uri] : []

interface LoginPageState { readonly status: number, readonly username?: string, readonly message?: string, readonly retryAfter?: string }

function loginPage (options: InteractionOptions, reply: FastifyReply, interaction: Interaction, state: LoginPageState): void {
  const message = state.message === undefined ? '' : `\n<p role="alert" id="sign-in-error"><strong>${escapeHtml(state.message)}</strong></p>`
  const html = page({
    title: 'Sign in',
    stylesheet: options.stylesheet,
    body: `<header>
<h1>Sign in</h1>
<p>to continue to <strong>${escapeHtml(clientName(options, interaction))}</strong></p>
</header>${message}
<form method="post" action="${INTERACTION_PREFIX}/${escapeHtml(interaction.uid)}/login">
<label for="username">Username</label>
<input id="username" name="username" autocomplete="username" autocapitalize="none" spellcheck="false" required maxlength="256" value="${escapeHtml(state.username ?? '')}"${state.message === undefined ? ' autofocus' : ''}${state.message === undefined ? '' : ' aria-describedby="sign-in-error"'}>
<label for="password">Password</label>
<input id="password" name="password" type="password" autocomplete="current-password" required maxlength="4096"${state.message === undefined ? '' : ' autofocus'}>
<button type="submit">Sign in</button>
</form>`
  })
  sendPage(reply, state.status, html, redirectTargets(interaction), state.retryAfter === undefined ? {} : { 'retry-after': state.retryAfter })
}

const SCOPE_TEXT: Readonly<Record<string, string>> = {
  openid: 'Know who you are (your user id)',
  profile: 'See your name and username',
  email: 'See your email address',
  offline_access: 'Stay signed in while you are away',
  api: 'Use the Identity Manager API as you'
}

function consentPage (options: InteractionOptions, reply: FastifyReply, interaction: Interaction): void {
  const details = interaction.prompt.details as { missingOIDCScope?: string[], missingResourceScopes?: Record<string, string[]> }
  const scopes = [...new Set([...(details.missingOIDCScope ?? []), ...Object.values(details.missingResourceScopes ?? {}).flat()])]
  const items = scopes.map(scope => `<li>${escapeHtml(SCOPE_TEXT[scope] ?? scope)}</li>`).join('\n')
  const html = page({
    title: 'Allow access',
    stylesheet: options.stylesheet,
    body: `<header>
<h1>Allow access?</h1>
<p><strong>${escapeHtml(clientName(options, interaction))}</strong> is not part of this platform. It asks to:</p>
</header>
<ul>
${items}
</ul>
<form method="post" action="${INTERACTION_PREFIX}/${escapeHtml(interaction.uid)}/consent">
<div role="group">
<button type="submit" name="decision" value="allow">Allow</button>
<button type="submit" name="decision" value="deny" class="secondary">Deny</button>
</div>
</form>`
  })
  sendPage(reply, 200, html, redirectTargets(interaction))
}
