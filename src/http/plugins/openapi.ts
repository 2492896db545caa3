/**
 * The OpenAPI 3.1 document, generated from the route schemas, at GET /openapi.json, and the
 * interactive docs at /docs. A route's `security` comes from its `config.auth` (see auth.ts).
 */
import swagger from '@fastify/swagger'
import swaggerUi from '@fastify/swagger-ui'
import { globalPlugin } from './global.js'

export interface OpenApiOptions { readonly version: string }

export const openApiPlugin = globalPlugin<OpenApiOptions>('idm-openapi', async (app, options) => {
  await app.register(swagger, {
    openapi: {
      openapi: '3.1.0',
      info: {
        title: 'Identity Manager',
        version: options.version,
        description: 'Event-sourced identity service: users, roles, catalogs, JWT authentication, sessions, OAuth clients, audit trail. ' +
          'Errors are RFC 9457 problem details (application/problem+json). ' +
          'The OAuth 2.0 / OpenID Connect endpoints (token, introspection, revocation, authorization, userinfo, logout) are under /oauth2/, ' +
          'advertised by /.well-known/openid-configuration, and answer as their RFCs say (RFC 6749 §5.2 errors such as {"error":"invalid_grant"}), not with problem details; they are not part of this document.'
      },
      tags: [
        { name: 'authentication', description: 'Sign-in with username and password: an access token (ES256 JWT with the session id `sid`) and a refresh token for the built-in public client idm-api' },
        { name: 'users', description: 'Users: profile, status, password, history' },
        { name: 'user roles', description: 'Roles assigned to a user' },
        { name: 'user companies', description: 'Companies a user belongs to' },
        { name: 'user providers', description: 'External providers a user is linked to' },
        { name: 'sessions', description: 'A user\'s sessions (one per sign-in): list, sign one or all out. An ended session\'s access tokens are refused on the next request and its refresh token stops working' },
        { name: 'clients', description: 'OAuth clients managed by identity-admin: apps that sign users in and service accounts (client_credentials). A confidential client\'s secret is returned once, at creation and rotation; only its hash is stored' },
        { name: 'roles', description: 'The roles catalog' },
        { name: 'companies', description: 'The companies catalog' },
        { name: 'providers', description: 'The providers catalog' },
        { name: 'identification types', description: 'The identification types catalog' },
        { name: 'events', description: 'The published identity events as CloudEvents: pages, a live SSE stream, their JSON Schema' },
        { name: 'audit', description: 'Tamper evidence: the hash chains of the log' },
        { name: 'auth', description: 'Signing keys (JWKS) for verifying access tokens' },
        { name: 'operations', description: 'Health and metrics' }
      ],
      components: {
        securitySchemes: {
          bearerAuth: { type: 'http', scheme: 'bearer', bearerFormat: 'JWT', description: 'An access token from POST /v1/authentication' }
        }
      }
    }
  })
  await app.register(swaggerUi, { routePrefix: '/docs', staticCSP: true })

  app.get('/openapi.json', { config: { auth: false }, schema: { hide: true } }, async () => app.swagger())
})
