/**
 * What every known error means over HTTP. The problems plugin asks the mappers in order
 * (the app's own first, then this table) and treats anything unmapped as a 500.
 *
 * Problem `type`s are `https://identity-manager.dev/problems/<slug>`: stable identifiers of the
 * kind of problem (not necessarily resolvable URLs). Domain rules use their code as the slug
 * (`ROLE_UNKNOWN` → `role-unknown`) and add the code as the `code` extension member.
 */
import { DomainError, type DomainErrorCode } from '../../domain/errors.js'
import { IdempotencyConflictError, StoreUnavailableError, WrongExpectedRevisionError } from '../../eventstore/port.js'

export const PROBLEM_TYPE_BASE = 'https://identity-manager.dev/problems/'

/** What an error becomes: the HTTP status and the public parts of the problem. */
export interface ProblemInit {
  readonly status: number
  /** Last segment of the type URI; defaults to the status's generic slug. */
  readonly slug?: string
  readonly title?: string
  /** Public, human-readable explanation of this occurrence. Never internals. */
  readonly detail?: string
  /** Extension members (e.g. `code`, `reason`, `errors`). type/title/status/detail are reserved. */
  readonly extensions?: Readonly<Record<string, unknown>>
  /** Response headers such as Retry-After or WWW-Authenticate. */
  readonly headers?: Readonly<Record<string, string>>
}

export type ErrorMapper = (error: unknown) => ProblemInit | undefined

/** The generic problem of each status: slug, title and a detail safe to show anyone. */
export const GENERIC: Readonly<Record<number, { slug: string, title: string, detail: string }>> = {
  400: { slug: 'invalid-request', title: 'Invalid request', detail: 'The request is not valid.' },
  401: { slug: 'unauthorized', title: 'Unauthorized', detail: 'Authentication is required.' },
  403: { slug: 'forbidden', title: 'Forbidden', detail: 'You are not allowed to do this.' },
  404: { slug: 'not-found', title: 'Not found', detail: 'The resource does not exist.' },
  405: { slug: 'method-not-allowed', title: 'Method not allowed', detail: 'The method is not allowed on this resource.' },
  406: { slug: 'not-acceptable', title: 'Not acceptable', detail: 'No acceptable representation is available.' },
  408: { slug: 'request-timeout', title: 'Request timeout', detail: 'The request took too long to arrive.' },
  409: { slug: 'conflict', title: 'Conflict', detail: 'The request conflicts with the current state of the resource.' },
  411: { slug: 'length-required', title: 'Length required', detail: 'The request needs a Content-Length.' },
  412: { slug: 'precondition-failed', title: 'Precondition failed', detail: 'If-Match does not match the current version of the resource.' },
  413: { slug: 'payload-too-large', title: 'Payload too large', detail: 'The request body is larger than the server accepts.' },
  414: { slug: 'uri-too-long', title: 'URI too long', detail: 'The request URI is too long.' },
  415: { slug: 'unsupported-media-type', title: 'Unsupported media type', detail: 'The request body must be application/json.' },
  422: { slug: 'unprocessable', title: 'Unprocessable content', detail: 'The request breaks a rule.' },
  429: { slug: 'too-many-requests', title: 'Too many requests', detail: 'Too many attempts; retry later.' },
  431: { slug: 'headers-too-large', title: 'Request header fields too large', detail: 'The request headers are too large.' },
  500: { slug: 'internal', title: 'Internal server error', detail: 'An unexpected error occurred. It has been logged.' },
  503: { slug: 'unavailable', title: 'Service unavailable', detail: 'The service is temporarily unavailable; retry later.' }
}

const DOMAIN: Readonly<Record<DomainErrorCode, { status: number, title: string }>> = {
  USER_NOT_FOUND: { status: 404, title: 'User not found' },
  CATALOG_ENTRY_NOT_FOUND: { status: 404, title: 'Catalog entry not found' },
  SESSION_NOT_FOUND: { status: 404, title: 'Session not found' },
  MFA_FACTOR_EXISTS: { status: 409, title: 'Factor already enrolled' },
  MFA_NOT_ENROLLING: { status: 409, title: 'No enrolment in progress' },
  MFA_NOT_ENROLLED: { status: 404, title: 'No such factor' },
  MFA_CODE_INVALID: { status: 422, title: 'Invalid code' },
  // Sign-in and step-up turn it into the one 401 of every failed authentication; never shown as is.
  SECOND_FACTOR_REFUSED: { status: 401, title: 'Invalid credentials' },
  CLIENT_NOT_FOUND: { status: 404, title: 'Client not found' },
  CLIENT_EXISTS: { status: 409, title: 'Client already exists' },
  CLIENT_INVALID: { status: 422, title: 'Invalid client settings' },
  USER_EXISTS: { status: 409, title: 'User already exists' },
  VALUE_TAKEN: { status: 409, title: 'Value already taken' },
  CATALOG_ENTRY_EXISTS: { status: 409, title: 'Catalog entry already exists' },
  ROLE_UNKNOWN: { status: 422, title: 'Unknown role' },
  ROLE_INACTIVE: { status: 422, title: 'Inactive role' },
  COMPANY_UNKNOWN: { status: 422, title: 'Unknown company' },
  COMPANY_INACTIVE: { status: 422, title: 'Inactive company' },
  PROVIDER_UNKNOWN: { status: 422, title: 'Unknown provider' },
  PROVIDER_INACTIVE: { status: 422, title: 'Inactive provider' },
  IDENTIFICATION_TYPE_UNKNOWN: { status: 422, title: 'Unknown identification type' },
  IDENTIFICATION_TYPE_INACTIVE: { status: 422, title: 'Inactive identification type' },
  LAST_ADMIN: { status: 422, title: 'Last active administrator' },
  SYSTEM_ROLE_PROTECTED: { status: 422, title: 'System role is protected' },
  WEAK_PASSWORD: { status: 422, title: 'Password does not meet the policy' },
  INVALID_USERNAME: { status: 400, title: 'Invalid username' },
  COMPANY_NOT_LINKED: { status: 422, title: 'User not linked to the company' },
  ROLE_COMPANY_ONLY: { status: 422, title: 'Role granted in a company only' },
  ROLE_GLOBAL_ONLY: { status: 422, title: 'Role granted globally only' },
  COMPANY_REQUIRED: { status: 422, title: 'Company required' },
  OUT_OF_COMPANY_SCOPE: { status: 403, title: 'Forbidden' }
}

/**
 * Errors of the command layer, matched by their stable `code` (src/commands/errors.ts) so the
 * shell does not depend on that module. The detail is fixed here, never the error's message.
 */
const BY_CODE: Readonly<Record<string, ProblemInit>> = {
  PRECONDITION_FAILED: { status: 412, detail: GENERIC[412]!.detail },
  CONCURRENT_MODIFICATION: { status: 409, slug: 'concurrent-modification', title: 'Concurrent modification', detail: 'The resource was changed by another request; retry.' },
  INVALID_CREDENTIALS: { status: 401, slug: 'invalid-credentials', title: 'Invalid credentials', detail: 'The username or password is not correct.', headers: { 'www-authenticate': 'Bearer' } },
  WRONG_CURRENT_PASSWORD: { status: 403, slug: 'wrong-current-password', title: 'Wrong current password', detail: 'The current password is not correct.' }
}

const kebab = (code: string): string => code.toLowerCase().replace(/_/g, '-')
const RESERVED = new Set(['type', 'title', 'status', 'detail', 'code', 'errors', 'instance'])

/** The built-in table: domain rules, event store failures and command-layer codes. */
export const mapKnownError: ErrorMapper = (error) => {
  if (error instanceof DomainError) {
    const entry = DOMAIN[error.code]
    if (entry === undefined) return undefined
    const details = Object.fromEntries(Object.entries(error.details).filter(([k]) => !RESERVED.has(k)))
    return {
      status: entry.status,
      slug: kebab(error.code),
      title: entry.title,
      detail: error.message,
      extensions: { code: error.code, ...details }
    }
  }
  if (error instanceof WrongExpectedRevisionError) {
    return BY_CODE.CONCURRENT_MODIFICATION
  }
  if (error instanceof IdempotencyConflictError) {
    return {
      status: 422,
      slug: 'idempotency-key-reused',
      title: 'Idempotency key reused',
      detail: 'This Idempotency-Key was already used for a different request.'
    }
  }
  if (error instanceof StoreUnavailableError) {
    return { status: 503, detail: 'The event store is unavailable; retry later.', headers: { 'retry-after': '5' } }
  }
  const code = error instanceof Error ? (error as { code?: unknown }).code : undefined
  if (typeof code === 'string' && Object.hasOwn(BY_CODE, code)) return BY_CODE[code]
  return undefined
}
