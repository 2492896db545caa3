/**
 * Request validation with TypeBox's compiler instead of Fastify's default Ajv.
 *
 * Why not Ajv: Fastify's Ajv instance is shared by every part of the request and defaults to
 * `coerceTypes: 'array'` and `removeAdditional: true`, so `{ "name": 5 }` would pass as "5" and
 * unknown body properties would be silently dropped. Here:
 *  - bodies are checked exactly as sent (no coercion), with schema defaults filled in;
 *  - querystring, params and headers are strings on the wire, so they are converted to the
 *    schema's types first, strictly (`?limit=20` becomes 20; `?limit=abc` or `?limit=1.5`
 *    stays a string and fails);
 *  - nothing is removed: an unknown property is a 400. Body object schemas that leave
 *    `additionalProperties` unspecified are closed at registration (`closeObjects`), so the
 *    rule holds even when a route forgets it, and the OpenAPI document shows it.
 * Formats (uuid, email, date-time, …) are TypeBox's built-in ones.
 *
 * Every string (and property name) must be well-formed Unicode: a lone UTF-16 surrogate
 * (`"\ud800"` in JSON) is a 400 here, on every route and part, because nothing downstream can
 * store or hash it (RFC 8785 canonical JSON, the hash chain, refuses it). A schema marked
 * `[ACCEPT_ILL_FORMED]: true` takes such strings as they are; the sign-in body does, so that a
 * malformed username or password is the same 401 as any other failed sign-in.
 */
import type { FastifySchemaCompiler, FastifySchemaValidationError, RouteOptions } from 'fastify'
import type { TSchema } from 'typebox'
import { Compile } from 'typebox/compile'
import Value from 'typebox/value'
import { isWellFormed, toWellFormed } from '../../domain/unicode.js'
import { problemResponse } from '../schemas/common.js'

type Json = Record<string, unknown>
const isSchema = (value: unknown): value is Json => value !== null && typeof value === 'object' && !Array.isArray(value)

/** At most this many issues are reported per request. */
export const MAX_REPORTED_ISSUES = 10

/** A schema keyword: strings that are not well-formed Unicode pass this schema (see above). */
export const ACCEPT_ILL_FORMED = 'x-idm-accept-ill-formed'

export const validatorCompiler: FastifySchemaCompiler<TSchema> = ({ schema, httpPart }) => {
  const validator = Compile(schema)
  const convert = httpPart !== 'body'
  const wellFormed = (schema as Json)[ACCEPT_ILL_FORMED] !== true
  return (input: unknown) => {
    let value = input
    if (value !== null && typeof value === 'object') {
      if (convert) value = convertStrings(schema, value as Record<string, unknown>)
      value = Value.Default(schema, value)
    }
    const illFormed = wellFormed ? illFormedAt(value, '') : null
    if (illFormed !== null) return { error: [issue(illFormed, 'must be well-formed Unicode (no lone surrogate)', 'wellFormed')] }
    if (validator.Check(value)) return { value }
    return { error: normalizeIssues([...validator.Errors(value)] as unknown as RawIssue[]) }
  }
}

/** The JSON pointer of the first string or property name that is not well-formed Unicode, or null. */
export function illFormedAt (value: unknown, path: string, depth = 0): string | null {
  if (typeof value === 'string') return isWellFormed(value) ? null : path
  if (value === null || typeof value !== 'object' || depth > 64) return null
  if (Array.isArray(value)) {
    for (let i = 0; i < value.length; i++) {
      const found = illFormedAt(value[i], `${path}/${i}`, depth + 1)
      if (found !== null) return found
    }
    return null
  }
  for (const [key, item] of Object.entries(value)) {
    if (!isWellFormed(key)) return child(path, toWellFormed(key))
    const found = illFormedAt(item, child(path, key), depth + 1)
    if (found !== null) return found
  }
  return null
}

const INTEGER = /^-?(0|[1-9][0-9]*)$/
const NUMBER = /^-?(0|[1-9][0-9]*)(\.[0-9]+)?$/

/**
 * Converts the string values of a flat object (querystring, params, headers) to the types its
 * schema declares, strictly: `20` becomes 20, but `1.5`, `0x10`, `1e2` or an empty string stay
 * strings for an integer and fail validation (TypeBox's Value.Convert would truncate 1.5 to 1).
 * A single value for an array property becomes a one-element array.
 */
function convertStrings (schema: TSchema, input: Record<string, unknown>): Record<string, unknown> {
  const properties = (schema as { properties?: Record<string, Json> }).properties
  if (properties === undefined) return input
  const output: Record<string, unknown> = { ...input }
  for (const [name, property] of Object.entries(properties)) {
    if (!(name in output)) continue
    const value = output[name]
    if (property.type === 'array') {
      const items = (isSchema(property.items) ? property.items : {}) as Json
      output[name] = (Array.isArray(value) ? value : [value]).map((v) => convertScalar(items, v))
    } else {
      output[name] = convertScalar(property, value)
    }
  }
  return output
}

function convertScalar (schema: Json, value: unknown): unknown {
  if (typeof value !== 'string') return value
  switch (schema.type) {
    case 'integer': return INTEGER.test(value) ? Number(value) : value
    case 'number': return NUMBER.test(value) ? Number(value) : value
    case 'boolean': return value === 'true' ? true : value === 'false' ? false : value
    default: return value
  }
}

interface RawIssue {
  keyword: string
  schemaPath: string
  instancePath: string
  params: Record<string, unknown>
  message: string
}

const escapePointer = (segment: string): string => segment.replace(/~/g, '~0').replace(/\//g, '~1')
const child = (path: string, name: unknown): string => `${path}/${escapePointer(String(name))}`
const issue = (instancePath: string, message: string, keyword: string): FastifySchemaValidationError =>
  ({ keyword, instancePath, schemaPath: '', params: {}, message })

/**
 * Turns TypeBox's errors into one issue per offending location: `required` and
 * `additionalProperties` point at the property itself, and a union's branch errors collapse
 * into one message on the union.
 */
export function normalizeIssues (errors: readonly RawIssue[]): FastifySchemaValidationError[] {
  const unions = errors.filter((e) => e.keyword === 'anyOf' || e.keyword === 'oneOf')
  const inUnion = (e: RawIssue): boolean =>
    unions.some((u) => e.schemaPath.startsWith(`${u.schemaPath}/${u.keyword}/`))
  const out: FastifySchemaValidationError[] = []

  for (const e of errors) {
    if (e.keyword === 'anyOf' || e.keyword === 'oneOf') {
      if (!inUnion(e)) out.push(issue(e.instancePath, unionMessage(e, errors), e.keyword))
    } else if (inUnion(e)) {
      continue
    } else if (e.keyword === 'required' && Array.isArray(e.params.requiredProperties)) {
      for (const name of e.params.requiredProperties) out.push(issue(child(e.instancePath, name), 'is required', 'required'))
    } else if (e.keyword === 'additionalProperties' && Array.isArray(e.params.additionalProperties)) {
      for (const name of e.params.additionalProperties) out.push(issue(child(e.instancePath, name), 'is not an allowed property', 'additionalProperties'))
    } else if (e.keyword === 'boolean') {
      // `additionalProperties: false` also reports each extra property as "schema is false".
      out.push(issue(e.instancePath, 'is not an allowed property', 'additionalProperties'))
    } else {
      out.push(issue(e.instancePath, e.message, e.keyword))
    }
  }

  const seen = new Set<string>()
  return out.filter((i) => {
    const key = `${i.instancePath}\u0000${i.message}`
    if (seen.has(key)) return false
    seen.add(key)
    return true
  }).slice(0, MAX_REPORTED_ISSUES)
}

function unionMessage (union: RawIssue, errors: readonly RawIssue[]): string {
  const branches = errors.filter((e) => e.schemaPath.startsWith(`${union.schemaPath}/${union.keyword}/`) && e.instancePath === union.instancePath)
  if (branches.length > 0 && branches.every((b) => b.keyword === 'const')) {
    return `must be one of ${branches.map((b) => JSON.stringify(b.params.allowedValue)).join(', ')}`
  }
  if (branches.length > 0 && branches.every((b) => b.keyword === 'type')) {
    return `must be ${[...new Set(branches.map((b) => String(b.params.type)))].join(' or ')}`
  }
  return 'must match one of the allowed forms'
}


/**
 * A copy of an object schema in which every object (through properties, items, anyOf/oneOf)
 * that does not say otherwise rejects unknown properties. `allOf` branches are left alone:
 * closing them would make each branch reject the others' properties. Non-enumerable TypeBox
 * metadata is kept; the input is never mutated.
 */
export function closeObjects (schema: unknown): unknown {
  if (!isSchema(schema)) return schema
  const changes: Json = {}
  const open = !('additionalProperties' in schema) && !('patternProperties' in schema) && !('unevaluatedProperties' in schema)
  if (schema.type === 'object' && open) changes.additionalProperties = false
  if (isSchema(schema.properties)) {
    const properties = schema.properties
    const closed = Object.fromEntries(Object.entries(properties).map(([k, v]) => [k, closeObjects(v)]))
    if (Object.keys(closed).some((k) => closed[k] !== properties[k])) changes.properties = closed
  }
  if (isSchema(schema.items)) {
    const items = closeObjects(schema.items)
    if (items !== schema.items) changes.items = items
  }
  for (const key of ['anyOf', 'oneOf'] as const) {
    const branches = schema[key]
    if (Array.isArray(branches)) {
      const closed = branches.map(closeObjects)
      if (closed.some((b, i) => b !== branches[i])) changes[key] = closed
    }
  }
  if (Object.keys(changes).length === 0) return schema
  const copy = Object.defineProperties({}, Object.getOwnPropertyDescriptors(schema)) as Json
  for (const [key, value] of Object.entries(changes)) {
    Object.defineProperty(copy, key, { value, enumerable: true, writable: true, configurable: true })
  }
  return copy
}

const NO_QUERY = Object.freeze({ type: 'object', properties: {}, additionalProperties: false })

/**
 * onRoute: close the body and querystring schemas (see closeObjects) and document the errors the shell itself
 * produces for the route's request schemas (400; 413 and 415 with a body). Idempotent.
 */
export function prepareRequestSchemas (route: RouteOptions): void {
  // Under /v1 an unknown query parameter is a 400 like an unknown body property (a misspelled
  // ?companyID= must not list every user): a route without a querystring schema takes none.
  const api = route.url.startsWith('/v1/')
  const given = route.schema ?? (api ? {} : undefined)
  if (given === undefined) return
  const schema = api && given.querystring === undefined ? { ...given, querystring: NO_QUERY } : given
  const hasBody = schema.body !== undefined
  const validated = hasBody || schema.querystring !== undefined || schema.params !== undefined || schema.headers !== undefined
  if (!validated) return
  const response = { ...(schema.response as Record<string, unknown> | undefined) }
  response[400] ??= problemResponse(400)
  if (hasBody) {
    response[413] ??= problemResponse(413)
    response[415] ??= problemResponse(415)
  }
  route.schema = {
    ...schema,
    ...(hasBody ? { body: closeObjects(schema.body) } : {}),
    ...(schema.querystring === undefined ? {} : { querystring: closeObjects(schema.querystring) }),
    response
  }
}
