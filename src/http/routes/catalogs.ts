/**
 * The four catalogs, one plugin: GET list / GET one for readers, POST (define) and PUT (replace
 * the mutable fields, including status) for identity-admin. Only the schemas differ per kind.
 */
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import Type, { type TSchema } from 'typebox'
import { defineCatalogEntry, updateCatalogEntry } from '../../commands/catalogs.js'
import type { CatalogKind } from '../../domain/catalog.js'
import { getCatalogEntry, listCatalog } from '../../projections/catalogs.js'
import { problem } from '../plugins/problems.js'
import { Paged, problemResponses } from '../schemas/common.js'
import { IdTypeCode, Slug } from '../schemas/users.js'
import { caughtUp, commandContext, type RouteDeps } from './context.js'
import { ROLES } from '../../domain/roles.js'
import { COMPANY_READERS } from '../auth/scope.js'

const Name = Type.String({ minLength: 1, maxLength: 200 })
const Status = Type.Union([Type.Literal('active'), Type.Literal('inactive')])
const Timestamps = { createdAt: Type.String({ format: 'date-time' }), updatedAt: Type.String({ format: 'date-time' }), version: Type.Integer() }
const OptionalIdentification = {
  identificationType: Type.Optional(Type.Union([IdTypeCode, Type.Null()])),
  identificationNumber: Type.Optional(Type.Union([Type.String({ pattern: '^[A-Za-z0-9-]{1,30}$' }), Type.Null()]))
}
const Identification = {
  identificationType: Type.Union([Type.String(), Type.Null()]),
  identificationNumber: Type.Union([Type.String(), Type.Null()])
}

interface CatalogSpec {
  readonly kind: CatalogKind
  readonly path: string
  readonly tag: string
  readonly id: TSchema
  /** The mutable fields a client sends (besides name, and status on PUT). */
  readonly fields: Record<string, TSchema>
  readonly view: TSchema
  /**
   * Readable by company admins and auditors too (roles to grant, identification types to create
   * users with); the companies and providers catalogs would show other companies: global readers only.
   */
  readonly companyReaders?: boolean
}

const SPECS: readonly CatalogSpec[] = [
  {
    kind: 'role',
    path: 'roles',
    tag: 'roles',
    id: Slug,
    fields: { description: Type.Optional(Type.String({ maxLength: 1000 })) },
    view: Type.Object({ id: Type.String(), name: Type.String(), description: Type.String(), system: Type.Boolean(), status: Status, ...Timestamps }, { title: 'Role' }),
    companyReaders: true
  },
  {
    kind: 'company',
    path: 'companies',
    tag: 'companies',
    id: Slug,
    fields: OptionalIdentification,
    view: Type.Object({ id: Type.String(), name: Type.String(), ...Identification, status: Status, ...Timestamps }, { title: 'Company' })
  },
  {
    kind: 'provider',
    path: 'providers',
    tag: 'providers',
    id: Slug,
    fields: OptionalIdentification,
    view: Type.Object({ id: Type.String(), name: Type.String(), ...Identification, status: Status, ...Timestamps }, { title: 'Provider' })
  },
  {
    kind: 'identificationType',
    path: 'identification-types',
    tag: 'identification types',
    id: IdTypeCode,
    fields: {},
    view: Type.Object({ id: Type.String(), name: Type.String(), status: Status, ...Timestamps }, { title: 'IdentificationType' }),
    companyReaders: true
  }
]

const READERS = { auth: { roles: [ROLES.auditor] } }
const WITH_COMPANY_READERS = { auth: { roles: [ROLES.auditor], company: COMPANY_READERS } }
const ADMINS = { auth: { roles: [ROLES.admin] } }

export const catalogRoutes: FastifyPluginAsyncTypebox<RouteDeps> = async (app, deps) => {
  for (const spec of SPECS) {
    const IdParam = Type.Object({ id: spec.id })
    const one = (id: string) => {
      const entry = getCatalogEntry(deps.db, spec.kind, id)
      if (entry === null) throw problem.notFound(`No such ${spec.tag.replace(/s$/, '')}.`)
      return entry
    }

    const readers = spec.companyReaders === true ? WITH_COMPANY_READERS : READERS
    app.get(`/${spec.path}`, {
      config: readers,
      schema: {
        tags: [spec.tag],
        summary: `List ${spec.tag} (sorted by id)`,
        querystring: Type.Object({
          status: Type.Optional(Status),
          limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 200, default: 50 })),
          cursor: Type.Optional(Type.String({ minLength: 1, maxLength: 512 }))
        }),
        response: { 200: Paged(spec.view) }
      }
    }, async (request) => {
      const { status, limit, cursor } = request.query as { status?: 'active' | 'inactive', limit?: number, cursor?: string }
      return listCatalog(deps.db, spec.kind, { limit: limit ?? 50, ...(cursor === undefined ? {} : { cursor }) },
        status === undefined ? {} : { status })
    })

    app.get(`/${spec.path}/:id`, {
      config: readers,
      schema: { tags: [spec.tag], summary: `Read one of the ${spec.tag}`, params: IdParam, response: { 200: spec.view, ...problemResponses(404) } }
    }, async (request) => one((request.params as { id: string }).id))

    app.post(`/${spec.path}`, {
      config: ADMINS,
      schema: {
        tags: [spec.tag],
        summary: `Define an entry of ${spec.tag} (the client chooses the id)`,
        body: Type.Object({ id: spec.id, name: Name, ...spec.fields }),
        response: { 201: spec.view, ...problemResponses(409, 422, 503) }
      }
    }, async (request, reply) => {
      const { id, ...input } = request.body as { id: string, name: string }
      const { position } = await defineCatalogEntry(deps.commands, spec.kind, id, input, commandContext(request, deps))
      await caughtUp(deps, position, reply)
      reply.code(201).header('location', `/v1/${spec.path}/${id}`)
      return one(id)
    })

    app.put(`/${spec.path}/:id`, {
      config: ADMINS,
      schema: {
        tags: [spec.tag],
        summary: `Replace the mutable fields of an entry of ${spec.tag} (status "inactive" deactivates)`,
        params: IdParam,
        body: Type.Object({ name: Name, ...spec.fields, status: Status }),
        response: { 200: spec.view, ...problemResponses(404, 409, 422, 503) }
      }
    }, async (request, reply) => {
      const { id } = request.params as { id: string }
      const input = request.body as { name: string, status: 'active' | 'inactive' }
      const { position } = await updateCatalogEntry(deps.commands, spec.kind, id, input, commandContext(request, deps))
      await caughtUp(deps, position, reply)
      return one(id)
    })
  }
}
