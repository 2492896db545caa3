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
        description: 'Event-sourced identity service: users, roles, catalogs, JWT authentication, audit trail. ' +
          'Errors are RFC 9457 problem details (application/problem+json).'
      },
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
