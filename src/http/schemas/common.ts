/**
 * TypeBox schemas shared by every route: RFC 9457 problems, ids, pagination, and the standard
 * error responses for the OpenAPI document.
 */
import Type, { type Static, type TSchema } from 'typebox'

export const PROBLEM_CONTENT_TYPE = 'application/problem+json'

export const ValidationIssue = Type.Object({
  path: Type.String({ description: 'JSON Pointer into the request: /body/email, /query/limit, /params/id' }),
  message: Type.String()
}, { additionalProperties: false })

/** RFC 9457 problem details. Extension members (e.g. `code`, `reason`) may be present. */
export const Problem = Type.Object({
  type: Type.String({ description: 'URI identifying the problem type' }),
  title: Type.String(),
  status: Type.Integer({ minimum: 400, maximum: 599 }),
  detail: Type.String(),
  code: Type.Optional(Type.String({ description: 'Stable machine-readable code of a domain rule' })),
  errors: Type.Optional(Type.Array(ValidationIssue))
}, { additionalProperties: true, title: 'Problem' })
export type Problem = Static<typeof Problem>

export const ValidationProblem = Type.Object({
  type: Type.String(),
  title: Type.String(),
  status: Type.Literal(400),
  detail: Type.String(),
  code: Type.Optional(Type.String()),
  errors: Type.Optional(Type.Array(ValidationIssue, { description: 'Present when the request does not match the schema' }))
}, { additionalProperties: true, title: 'ValidationProblem' })

export const Uuid = Type.String({ format: 'uuid' })

export const UuidParam = Type.Object({ id: Uuid }, { additionalProperties: false })
export type UuidParam = Static<typeof UuidParam>

/** `?limit=&cursor=`. The validator fills in the default, so `limit` is always set in handlers. */
export const Pagination = Type.Object({
  limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 200, default: 50 })),
  cursor: Type.Optional(Type.String({ minLength: 1, maxLength: 512 }))
})
export type Pagination = Static<typeof Pagination>

/** A page of a list: `{ items, nextCursor }`. */
export const Paged = <T extends TSchema>(item: T) => Type.Object({
  items: Type.Array(item),
  nextCursor: Type.Union([Type.String(), Type.Null()])
}, { additionalProperties: false })

export const ERROR_DESCRIPTIONS = {
  400: 'The request does not match the schema (see `errors`), or its body is not valid JSON',
  401: 'No valid bearer token',
  403: 'Authenticated, but not allowed to do this',
  404: 'No such resource',
  409: 'Conflict with the current state (duplicate value or concurrent change)',
  412: 'If-Match does not match the current version',
  413: 'The request body is too large',
  415: 'The request body is not application/json',
  422: 'Valid JSON that breaks a rule',
  429: 'Too many attempts; see Retry-After',
  500: 'Unexpected error',
  503: 'Temporarily unavailable; see Retry-After'
} as const
export type ErrorStatus = keyof typeof ERROR_DESCRIPTIONS

/** One problem+json response entry for a route's `schema.response`. */
export const problemResponse = (status: ErrorStatus) => ({
  description: ERROR_DESCRIPTIONS[status],
  content: { [PROBLEM_CONTENT_TYPE]: { schema: status === 400 ? ValidationProblem : Problem } }
})

/**
 * Error responses for a route's `schema.response`, e.g.
 * `response: { 200: User, ...problemResponses(404, 409, 422) }`.
 * 400, 413 and 415 (routes with request schemas/bodies) and 401/403 (routes with auth) are added
 * by the shell; list the ones the route's own logic produces.
 */
export const problemResponses = <S extends ErrorStatus>(...statuses: S[]) =>
  Object.fromEntries(statuses.map((s) => [s, problemResponse(s)])) as { [K in S]: ReturnType<typeof problemResponse> }

/** The body of a successful POST /v1/authentication (RFC 6749 §5.1 names). */
export const AccessTokenResponse = Type.Object({
  access_token: Type.String({ description: 'ES256 JWT. For a user linked to companies it carries `companies` (company ids) and `company_roles` (`{ "<companyId>": ["<roleId>", ...] }`): routing hints; authorization always reads the current state' }),
  token_type: Type.Literal('Bearer'),
  expires_in: Type.Integer({ description: 'Seconds until the token expires' }),
  refresh_token: Type.Optional(Type.String({ description: 'Opaque, single use: exchange it at the token endpoint (grant_type=refresh_token&client_id=idm-api) for a new access token and a new refresh token. Reusing one ends the session.' }))
}, { additionalProperties: false })
