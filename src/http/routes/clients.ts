/**
 * /v1/clients: OAuth clients, managed by identity-admin (identity-auditor may read). A
 * confidential client's secret is in the 201 of its creation and of each rotation, and nowhere
 * else: only its hash is stored. A service account is a confidential client with
 * client_credentials; its roles are what its tokens may do on /v1 (identity-subscriber for a
 * feed reader). Deactivating a client refuses its tokens on the next request.
 */
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import Type from 'typebox'
import { registerClient, rotateClientSecret, updateClient, type ClientDeps } from '../../commands/clients.js'
import { getClient, listClients } from '../../projections/clients.js'
import { problem } from '../plugins/problems.js'
import { problemResponses } from '../schemas/common.js'
import { caughtUp, commandContext, type RouteDeps } from './context.js'
import { requireRecentSecondFactor } from '../auth/second-factor.js'
import { ROLES } from '../../domain/roles.js'

const GrantType = Type.Union([Type.Literal('authorization_code'), Type.Literal('refresh_token'), Type.Literal('client_credentials')])
/** Absolute http(s) URIs without a fragment (RFC 6749 §3.1.2); matched exactly at /oauth2/authorize. */
const RedirectUri = Type.String({ pattern: '^https?://[^\\s#]+$', maxLength: 2000 })
const Slug = Type.String({ pattern: '^[a-z0-9](?:[a-z0-9-]{0,62}[a-z0-9])?$', maxLength: 64 })

const Settings = {
  name: Type.String({ minLength: 1, maxLength: 200 }),
  grantTypes: Type.Array(GrantType, { minItems: 1, maxItems: 3, uniqueItems: true }),
  redirectUris: Type.Optional(Type.Array(RedirectUri, { maxItems: 20, uniqueItems: true })),
  postLogoutRedirectUris: Type.Optional(Type.Array(RedirectUri, { maxItems: 20, uniqueItems: true })),
  roles: Type.Optional(Type.Array(Slug, { maxItems: 50, uniqueItems: true })),
  thirdParty: Type.Optional(Type.Boolean({ description: 'Third-party clients get a consent step at sign-in (default false)' }))
}

const CreateClientBody = Type.Object({
  ...Settings,
  type: Type.Union([Type.Literal('confidential'), Type.Literal('public')])
}, { additionalProperties: false })

const UpdateClientBody = Type.Object({
  ...Settings,
  status: Type.Union([Type.Literal('active'), Type.Literal('inactive')])
}, { additionalProperties: false })

const Client = Type.Object({
  clientId: Type.String(),
  name: Type.String(),
  type: Type.Union([Type.Literal('confidential'), Type.Literal('public')]),
  status: Type.Union([Type.Literal('active'), Type.Literal('inactive')]),
  grantTypes: Type.Array(Type.String()),
  redirectUris: Type.Array(Type.String()),
  postLogoutRedirectUris: Type.Array(Type.String()),
  roles: Type.Array(Type.String()),
  thirdParty: Type.Boolean(),
  previousSecretExpiresAt: Type.Union([Type.String({ format: 'date-time' }), Type.Null()]),
  createdAt: Type.String({ format: 'date-time' }),
  updatedAt: Type.String({ format: 'date-time' }),
  version: Type.Integer()
}, { additionalProperties: false })

const CreatedClient = Type.Object({
  ...Client.properties,
  client_id: Type.String({ description: 'The OAuth client_id (same as clientId)' }),
  client_secret: Type.Optional(Type.String({ description: 'Confidential clients only. Shown once: only its hash is stored.' }))
}, { additionalProperties: false })

const RotatedSecret = Type.Object({
  client_id: Type.String(),
  client_secret: Type.String({ description: 'The new secret. Shown once.' }),
  previousSecretExpiresAt: Type.String({ format: 'date-time', description: 'Until then the previous secret works too' })
}, { additionalProperties: false })

const ClientIdParam = Type.Object({ id: Type.String({ minLength: 1, maxLength: 200 }) }, { additionalProperties: false })

const READERS = [ROLES.auditor]
const ADMINS = [ROLES.admin]

export interface ClientRouteDeps extends RouteDeps {
  readonly clientDeps: ClientDeps
}

export const clientsRoutes: FastifyPluginAsyncTypebox<ClientRouteDeps> = async (app, deps) => {
  const found = (id: string) => {
    const client = getClient(deps.db, id)
    if (client === null) throw problem.notFound('No such client.')
    return client
  }
  const settings = (b: { name: string, grantTypes: ('authorization_code' | 'refresh_token' | 'client_credentials')[], redirectUris?: string[], postLogoutRedirectUris?: string[], roles?: string[], thirdParty?: boolean }) => ({
    name: b.name,
    grantTypes: b.grantTypes,
    redirectUris: b.redirectUris ?? [],
    postLogoutRedirectUris: b.postLogoutRedirectUris ?? [],
    roles: b.roles ?? [],
    thirdParty: b.thirdParty ?? false
  })

  app.get('/clients', {
    config: { auth: { roles: READERS } },
    schema: { tags: ['clients'], summary: 'List OAuth clients by name', response: { 200: Type.Object({ items: Type.Array(Client), nextCursor: Type.Null() }) } }
  }, async () => ({ items: listClients(deps.db), nextCursor: null }))

  app.get('/clients/:id', {
    config: { auth: { roles: READERS } },
    schema: { tags: ['clients'], summary: 'One OAuth client', params: ClientIdParam, response: { 200: Client, ...problemResponses(404) } }
  }, async (request, reply) => {
    const client = found(request.params.id)
    reply.header('etag', `"${client.version}"`)
    return client
  })

  app.post('/clients', {
    config: { auth: { roles: ADMINS } },
    schema: {
      tags: ['clients'],
      summary: 'Register an OAuth client (a confidential one gets a secret, shown once)',
      body: CreateClientBody,
      response: { 201: CreatedClient, ...problemResponses(422, 503) }
    }
  }, async (request, reply) => {
    const { type } = request.body
    const created = await registerClient(deps.clientDeps, { type, ...settings(request.body) }, commandContext(request, deps))
    await caughtUp(deps, created.position, reply)
    const client = found(created.clientId)
    reply.code(201).header('location', `/v1/clients/${created.clientId}`).header('cache-control', 'no-store')
    return { ...client, client_id: created.clientId, ...(created.clientSecret === null ? {} : { client_secret: created.clientSecret }) }
  })

  app.put('/clients/:id', {
    config: { auth: { roles: ADMINS } },
    schema: {
      tags: ['clients'],
      summary: 'Change a client: name, grant types, redirect URIs, roles, status (inactive refuses its tokens at once)',
      params: ClientIdParam,
      body: UpdateClientBody,
      response: { 200: Client, ...problemResponses(404, 422, 503) }
    }
  }, async (request, reply) => {
    found(request.params.id)
    const written = await updateClient(deps.clientDeps, request.params.id, { ...settings(request.body), status: request.body.status }, commandContext(request, deps))
    await caughtUp(deps, written.position, reply)
    return found(request.params.id)
  })

  app.post('/clients/:id/secret', {
    config: { auth: { roles: ADMINS } },
    schema: {
      tags: ['clients'],
      summary: 'Rotate a confidential client\'s secret; the previous one keeps working for IDM_CLIENT_SECRET_OVERLAP_SECONDS (needs a recent second factor: step-up)',
      params: ClientIdParam,
      response: { 201: RotatedSecret, ...problemResponses(404, 422, 503) }
    }
  }, async (request, reply) => {
    requireRecentSecondFactor(app.secondFactor, request.principal!, deps.commands.clock().getTime())
    found(request.params.id)
    const rotated = await rotateClientSecret(deps.clientDeps, request.params.id, commandContext(request, deps))
    await caughtUp(deps, rotated.position, reply)
    reply.code(201).header('cache-control', 'no-store')
    return { client_id: rotated.clientId, client_secret: rotated.clientSecret, previousSecretExpiresAt: rotated.previousExpiresAt }
  })
}
