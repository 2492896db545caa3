/**
 * What the authorization code tests share: the service on a real socket with a real issuer URL,
 * a registered client, openid-client configured for it, and `UserAgent`, a cookie-keeping
 * fetch with manual redirects that walks the sign-in page over plain HTTP the way a browser
 * would (the Chromium test drives the same page in a real browser).
 */
import { createServer } from 'node:net'
import * as oidc from 'openid-client'
import type { Test } from 'tap'
import { openApiService, type ApiService } from '../helpers/api.js'
import type { ServiceOptions } from '../../src/service.js'

export const API_RESOURCE = 'urn:identity-manager:api'
export const insecure = { execute: [oidc.allowInsecureRequests] }

export async function freePort (): Promise<number> {
  return await new Promise((resolve, reject) => {
    const server = createServer()
    server.once('error', reject)
    server.listen(0, '127.0.0.1', () => {
      const port = (server.address() as { port: number }).port
      server.close(() => { resolve(port) })
    })
  })
}

export interface OidcService { readonly svc: ApiService, readonly issuer: string }

/** The service listening on 127.0.0.1 with IDM_PUBLIC_URL set to the URL it listens on. */
export async function openOidcService (t: Test, env: Record<string, string> = {}, options: ServiceOptions = {}): Promise<OidcService> {
  const port = await freePort()
  const issuer = `http://127.0.0.1:${port}`
  const svc = await openApiService(t, { IDM_PUBLIC_URL: issuer, PORT: String(port), ...env }, options)
  await svc.app.listen({ host: '127.0.0.1', port })
  return { svc, issuer }
}

export interface RegisteredClient {
  readonly clientId: string
  readonly secret: string | undefined
  readonly redirectUri: string
  readonly postLogoutRedirectUri: string
  readonly config: oidc.Configuration
}

export async function registerClient (o: OidcService, options: { name?: string, type?: 'confidential' | 'public', thirdParty?: boolean, redirectUri?: string, postLogoutRedirectUri?: string } = {}): Promise<RegisteredClient> {
  const redirectUri = options.redirectUri ?? 'https://app.example/callback'
  const postLogoutRedirectUri = options.postLogoutRedirectUri ?? 'https://app.example/signed-out'
  const type = options.type ?? 'confidential'
  const res = await o.svc.call('POST', '/v1/clients', {
    token: o.svc.admin,
    body: {
      name: options.name ?? 'web app',
      type,
      grantTypes: ['authorization_code', 'refresh_token'],
      redirectUris: [redirectUri],
      postLogoutRedirectUris: [postLogoutRedirectUri],
      ...(options.thirdParty === undefined ? {} : { thirdParty: options.thirdParty })
    }
  })
  if (res.statusCode !== 201) throw new Error(`client registration: ${res.statusCode} ${res.body}`)
  const body = res.json() as { client_id: string, client_secret?: string }
  const auth = body.client_secret === undefined ? oidc.None() : oidc.ClientSecretBasic(body.client_secret)
  const config = await oidc.discovery(new URL(o.issuer), body.client_id, undefined, auth, insecure)
  return { clientId: body.client_id, secret: body.client_secret, redirectUri, postLogoutRedirectUri, config }
}

/** A cookie jar and fetch with manual redirects: one browser, without the browser. */
export class UserAgent {
  readonly cookies = new Map<string, string>()

  constructor (readonly origin: string) {}

  async request (url: string | URL, init: { method?: string, form?: Record<string, string>, headers?: Record<string, string>, cookies?: boolean } = {}): Promise<Response> {
    const target = new URL(url, this.origin)
    const headers: Record<string, string> = { ...init.headers }
    if (target.origin === this.origin && init.cookies !== false && this.cookies.size > 0) {
      headers.cookie = [...this.cookies].map(([name, value]) => `${name}=${value}`).join('; ')
    }
    let body: string | undefined
    if (init.form !== undefined) {
      body = new URLSearchParams(init.form).toString()
      headers['content-type'] = 'application/x-www-form-urlencoded'
      headers.origin ??= this.origin
    }
    const res = await fetch(target, { method: init.method ?? (body === undefined ? 'GET' : 'POST'), headers, redirect: 'manual', ...(body === undefined ? {} : { body }) })
    if (target.origin === this.origin) {
      for (const cookie of res.headers.getSetCookie()) {
        const [pair] = cookie.split(';')
        const eq = pair!.indexOf('=')
        const name = pair!.slice(0, eq)
        const value = pair!.slice(eq + 1)
        if (value === '' || /expires=Thu, 01 Jan 1970/i.test(cookie)) this.cookies.delete(name)
        else this.cookies.set(name, value)
      }
    }
    return res
  }

  /** Follows redirects on the issuer; stops at the first response that is not one, or that leaves the issuer. */
  async follow (url: string | URL, init: Parameters<UserAgent['request']>[1] = {}): Promise<{ res: Response, url: URL }> {
    let current = new URL(url, this.origin)
    let res = await this.request(current, init)
    for (let hops = 0; hops < 10 && res.status >= 300 && res.status < 400; hops++) {
      const location = res.headers.get('location')
      if (location === null) break
      await res.arrayBuffer()
      current = new URL(location, current)
      if (current.origin !== this.origin) return { res, url: current }
      res = await this.request(current)
    }
    return { res, url: current }
  }
}

export interface AuthorizationRequest {
  readonly url: URL
  readonly verifier: string
  readonly state: string
  readonly nonce: string
}

export async function authorizationRequest (client: RegisteredClient, extra: Record<string, string> = {}): Promise<AuthorizationRequest> {
  const verifier = oidc.randomPKCECodeVerifier()
  const state = oidc.randomState()
  const nonce = oidc.randomNonce()
  const url = oidc.buildAuthorizationUrl(client.config, {
    redirect_uri: client.redirectUri,
    scope: 'openid profile email',
    code_challenge: await oidc.calculatePKCECodeChallenge(verifier),
    code_challenge_method: 'S256',
    state,
    nonce,
    ...extra
  })
  return { url, verifier, state, nonce }
}

/** The sign-in page's form action, read from the page. */
export function formAction (html: string): string {
  const match = /<form method="post" action="([^"]+)"/.exec(html)
  if (match === null) throw new Error(`no form on the page: ${html.slice(0, 500)}`)
  return match[1]!
}

/**
 * The whole front channel over HTTP: authorize, the sign-in page (unless the browser's session
 * skips it), back at the client's redirect_uri. Returns that callback URL.
 */
export async function signInOverHttp (agent: UserAgent, request: AuthorizationRequest, credentials?: { username: string, password: string }): Promise<URL> {
  let { res, url } = await agent.follow(request.url)
  if (url.origin === agent.origin && res.status === 200 && url.pathname.startsWith('/interaction/')) {
    if (credentials === undefined) throw new Error('the sign-in page asked for a password')
    const html = await res.text()
    ;({ res, url } = await agent.follow(formAction(html), { form: credentials }))
  }
  if (url.origin === agent.origin) throw new Error(`did not get back to the client: ${res.status} ${url.href} ${await res.text()}`)
  return url
}
