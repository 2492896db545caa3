/**
 * The console's only way to the service: the public /v1 HTTP API with the bearer token. Errors
 * arrive as RFC 9457 problem+json and are thrown as ApiError so forms can show them beside the
 * fields. A 401 on an authenticated call means the token expired or was revoked (deactivation,
 * password change): the session is ended and the sign-in page says why.
 */
import { session } from './session'

export interface Problem {
  type: string
  title: string
  status: number
  detail: string
  code?: string
  reason?: string
  kind?: string
  errors?: { path: string, message: string }[]
}

export class ApiError extends Error {
  constructor (readonly status: number, readonly problem: Problem) {
    super(problem.detail || problem.title)
    this.name = 'ApiError'
  }
}

export interface Page<T> { items: T[], nextCursor: string | null }

export interface ApiResult<T> { data: T, etag: string | null, requestId: string | null }

export interface CallOptions {
  body?: unknown
  headers?: Record<string, string>
  signal?: AbortSignal
  /** The sign-in call itself: a 401 there is a wrong password, not an ended session. */
  anonymous?: boolean
}

let onUnauthorized: () => void = () => {}
/** Who handles an expired or revoked token (the app: back to sign-in with a message). */
export function setUnauthorizedHandler (handler: () => void): void { onUnauthorized = handler }

export const authHeaders = (): Record<string, string> => {
  const token = session.token()
  return token === null ? {} : { authorization: `Bearer ${token}` }
}

export async function call<T> (method: string, path: string, options: CallOptions = {}): Promise<ApiResult<T>> {
  const headers: Record<string, string> = { accept: 'application/json', ...(options.anonymous === true ? {} : authHeaders()), ...options.headers }
  if (options.body !== undefined) headers['content-type'] = 'application/json'
  const response = await fetch(path, {
    method,
    headers,
    ...(options.body === undefined ? {} : { body: JSON.stringify(options.body) }),
    ...(options.signal === undefined ? {} : { signal: options.signal }),
    credentials: 'omit',
    cache: 'no-store'
  })
  const text = await response.text()
  const parsed: unknown = text === '' ? null : safeJson(text)
  if (!response.ok) {
    const problem = isProblem(parsed) ? parsed : { type: 'about:blank', title: response.statusText, status: response.status, detail: `The server answered ${response.status}.` }
    if (response.status === 401 && options.anonymous !== true) onUnauthorized()
    throw new ApiError(response.status, problem)
  }
  return { data: parsed as T, etag: response.headers.get('etag'), requestId: response.headers.get('x-request-id') }
}

export const get = async <T>(path: string, signal?: AbortSignal): Promise<ApiResult<T>> =>
  await call<T>('GET', path, signal === undefined ? {} : { signal })

/** A query string from the set values only. */
export function query (params: Record<string, string | number | undefined | null>): string {
  const search = new URLSearchParams()
  for (const [key, value] of Object.entries(params)) {
    if (value !== undefined && value !== null && value !== '') search.set(key, String(value))
  }
  const text = search.toString()
  return text === '' ? '' : `?${text}`
}

function safeJson (text: string): unknown {
  try {
    return JSON.parse(text)
  } catch {
    return null
  }
}

function isProblem (value: unknown): value is Problem {
  return typeof value === 'object' && value !== null && typeof (value as Problem).status === 'number' && typeof (value as Problem).title === 'string'
}

/** A sentence for a failed call, for a notice (field-level errors are shown by the form). */
export function describe (error: unknown): string {
  if (error instanceof ApiError) {
    const reason = error.problem.reason === undefined ? '' : ` (${error.problem.reason})`
    return `${error.problem.title}: ${error.problem.detail}${reason}`
  }
  if (error instanceof DOMException && error.name === 'AbortError') return 'Cancelled.'
  return 'The service could not be reached. Check the connection and try again.'
}
