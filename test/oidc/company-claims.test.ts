/**
 * Issue 13 item 5 over the OpenID provider: the API access token and userinfo (scope profile)
 * carry `companies` and `company_roles`, read from the read model at issuance.
 */
import * as oidc from 'openid-client'
import t from 'tap'
import { decodeJwt, PASSWORD } from '../helpers/api.js'
import { API_RESOURCE, authorizationRequest, openOidcService, registerClient, signInOverHttp, UserAgent } from './rp.js'

t.test('OIDC tokens carry companies and company_roles', async t => {
  const o = await openOidcService(t)
  const { svc } = o
  t.equal((await svc.call('POST', '/v1/companies', { token: svc.admin, body: { id: 'acme', name: 'Acme' } })).statusCode, 201)
  t.equal((await svc.call('POST', '/v1/roles', { token: svc.admin, body: { id: 'dispatcher', name: 'Dispatcher' } })).statusCode, 201)
  const user = await svc.createUser({ companies: ['acme'] })
  t.equal((await svc.call('POST', `/v1/users/${user.id}/roles`, { token: svc.admin, body: { roleId: 'dispatcher', companyId: 'acme' } })).statusCode, 200)

  const app = await registerClient(o, { name: 'dispatch' })
  const agent = new UserAgent(o.issuer)
  const request = await authorizationRequest(app)
  const callback = await signInOverHttp(agent, request, { username: user.username, password: PASSWORD })
  const tokens = await oidc.authorizationCodeGrant(app.config, callback, { pkceCodeVerifier: request.verifier, expectedState: request.state, expectedNonce: request.nonce })
  const info = await oidc.fetchUserInfo(app.config, tokens.access_token, user.id)
  t.match(info, { companies: ['acme'], company_roles: { acme: ['dispatcher'] } }, 'userinfo (scope profile)')

  const api = decodeJwt((await oidc.refreshTokenGrant(app.config, tokens.refresh_token!, { resource: API_RESOURCE })).access_token).payload
  t.strictSame(api.companies, ['acme'], 'the API access token: companies')
  t.strictSame(api.company_roles, { acme: ['dispatcher'] }, 'the API access token: company_roles')
})
