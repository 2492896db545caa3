/**
 * The OpenAPI document describes the /v1 parts of issue 12 as they answer: every sessions and
 * clients operation is in it, tagged, with its security, and every real response of those
 * routes (successes and the refusals a client meets: 404, 403, 400, 422) matches the documented
 * status and schema. The sign-in response documents `refresh_token`.
 */
import t from 'tap'
import { PASSWORD, UNKNOWN_ID, decodeJwt, loadApiDocument, openApiService } from '../helpers/api.js'

const svc = await openApiService(t)
const api = await loadApiDocument(svc)
const { doc } = api

const OPERATIONS = [
  ['get', '/v1/users/{id}/sessions', 'sessions'],
  ['delete', '/v1/users/{id}/sessions', 'sessions'],
  ['delete', '/v1/users/{id}/sessions/{sessionId}', 'sessions'],
  ['get', '/v1/clients', 'clients'],
  ['post', '/v1/clients', 'clients'],
  ['get', '/v1/clients/{id}', 'clients'],
  ['put', '/v1/clients/{id}', 'clients'],
  ['post', '/v1/clients/{id}/secret', 'clients']
] as const

const user = await svc.createUser()
const other = await svc.createUser()
const signIn = await svc.call('POST', '/v1/authentication', { body: { username: user.username, password: PASSWORD } })
const tokens = signIn.json() as { access_token: string, refresh_token: string }
const sid = String(decodeJwt(tokens.access_token).payload.sid)
const second = (await svc.call('POST', '/v1/authentication', { body: { username: user.username, password: PASSWORD } })).json() as { access_token: string }

t.test('every sessions and clients operation is documented, tagged and secured', async t => {
  t.ok(api.validity.valid, api.validity.errors)
  for (const [method, path, tag] of OPERATIONS) {
    const op = doc.paths[path]?.[method] as { tags?: string[], security?: unknown, summary?: string, responses?: Record<string, unknown> } | undefined
    t.ok(op, `${method} ${path} is documented`)
    t.same(op?.tags, [tag], `${method} ${path} is tagged ${tag}`)
    t.same(op?.security, [{ bearerAuth: [] }], `${method} ${path} needs a bearer token`)
    t.ok((op?.summary ?? '').length > 10, `${method} ${path} says what it does`)
    for (const status of ['401', '403']) t.ok(op?.responses?.[status], `${method} ${path} documents ${status}`)
  }
  const tags = (doc as unknown as { tags?: { name: string, description?: string }[] }).tags ?? []
  for (const name of ['sessions', 'clients']) t.ok(tags.find(tag => tag.name === name)?.description, `the ${name} tag is described`)
})

t.test('sign-in documents refresh_token, and its answer matches', async t => {
  t.equal(signIn.statusCode, 200)
  api.check(t, 'POST', '/v1/authentication', signIn)
  const schema = JSON.stringify(doc.paths['/v1/authentication']?.post)
  t.match(schema, /refresh_token/, 'refresh_token is in the documented response')
})

t.test('the sessions routes answer as documented', async t => {
  const base = `/v1/users/${user.id}/sessions`
  const listed = await svc.call('GET', base, { token: tokens.access_token })
  t.equal(listed.statusCode, 200)
  api.check(t, 'GET', '/v1/users/{id}/sessions', listed)
  t.equal(listed.json().items.length, 2)
  const forbidden = await svc.call('GET', base, { token: await svc.login(other.username) })
  t.equal(forbidden.statusCode, 403, 'another user may not read them')
  api.check(t, 'GET', '/v1/users/{id}/sessions', forbidden)
  const unknownUser = await svc.call('GET', `/v1/users/${UNKNOWN_ID}/sessions`, { token: svc.admin })
  t.equal(unknownUser.statusCode, 404)
  api.check(t, 'GET', '/v1/users/{id}/sessions', unknownUser)
  const badId = await svc.call('GET', '/v1/users/not-a-uuid/sessions', { token: svc.admin })
  t.equal(badId.statusCode, 400)
  api.check(t, 'GET', '/v1/users/{id}/sessions', badId)

  const unknownSession = await svc.call('DELETE', `${base}/${UNKNOWN_ID}`, { token: svc.admin })
  t.equal(unknownSession.statusCode, 404)
  api.check(t, 'DELETE', '/v1/users/{id}/sessions/{sessionId}', unknownSession)
  const one = await svc.call('DELETE', `${base}/${sid}`, { token: svc.admin })
  t.equal(one.statusCode, 204)
  api.check(t, 'DELETE', '/v1/users/{id}/sessions/{sessionId}', one)
  const all = await svc.call('DELETE', base, { token: second.access_token })
  t.equal(all.statusCode, 204, 'the user signs every session out')
  api.check(t, 'DELETE', '/v1/users/{id}/sessions', all)
  const after = await svc.call('GET', base, { token: svc.admin })
  api.check(t, 'GET', '/v1/users/{id}/sessions', after)
  t.match(after.json().items, [{ status: 'ended' }, { status: 'ended' }], 'ended sessions are listed with why')
})

t.test('the clients routes answer as documented', async t => {
  const body = { name: 'docs check', type: 'confidential', grantTypes: ['client_credentials'], roles: ['identity-subscriber'] }
  const created = await svc.call('POST', '/v1/clients', { token: svc.admin, body })
  t.equal(created.statusCode, 201)
  api.check(t, 'POST', '/v1/clients', created)
  const id = created.json().client_id as string
  const publicClient = await svc.call('POST', '/v1/clients', { token: svc.admin, body: { name: 'spa', type: 'public', grantTypes: ['authorization_code', 'refresh_token'], redirectUris: ['https://spa.example/cb'] } })
  t.equal(publicClient.statusCode, 201)
  api.check(t, 'POST', '/v1/clients', publicClient)
  t.notOk('client_secret' in publicClient.json(), 'a public client gets no secret')
  const invalid = await svc.call('POST', '/v1/clients', { token: svc.admin, body: { ...body, grantTypes: ['password'] } })
  t.equal(invalid.statusCode, 400)
  api.check(t, 'POST', '/v1/clients', invalid)
  const notAdmin = await svc.call('POST', '/v1/clients', { token: tokens.access_token, body })
  t.ok(notAdmin.statusCode === 401 || notAdmin.statusCode === 403, `a plain user is refused (${notAdmin.statusCode})`)
  api.check(t, 'POST', '/v1/clients', notAdmin)

  for (const [method, template, url] of [['GET', '/v1/clients', '/v1/clients'], ['GET', '/v1/clients/{id}', `/v1/clients/${id}`], ['GET', '/v1/clients/{id}', '/v1/clients/no-such-client']] as const) {
    const res = await svc.call(method, url, { token: svc.admin })
    api.check(t, method, template, res)
  }
  const updated = await svc.call('PUT', `/v1/clients/${id}`, { token: svc.admin, body: { name: 'docs check, renamed', grantTypes: ['client_credentials'], roles: ['identity-subscriber'], status: 'inactive' } })
  t.equal(updated.statusCode, 200)
  api.check(t, 'PUT', '/v1/clients/{id}', updated)
  const rotated = await svc.call('POST', `/v1/clients/${id}/secret`, { token: svc.admin })
  api.check(t, 'POST', '/v1/clients/{id}/secret', rotated)
  const publicRotation = await svc.call('POST', `/v1/clients/${publicClient.json().client_id as string}/secret`, { token: svc.admin })
  t.ok(publicRotation.statusCode >= 400 && publicRotation.statusCode < 500, `a public client has no secret to rotate (${publicRotation.statusCode})`)
  api.check(t, 'POST', '/v1/clients/{id}/secret', publicRotation)
  const missing = await svc.call('POST', '/v1/clients/no-such-client/secret', { token: svc.admin })
  t.equal(missing.statusCode, 404)
  api.check(t, 'POST', '/v1/clients/{id}/secret', missing)
})
