/**
 * GET /v1/events/schema: one JSON Schema (draft 2020-12) document with the `data` schema of
 * every event type, generated from the domain's TypeBox schemas (`eventDefinitions`), so it cannot
 * drift from what the service writes.
 *
 * `$defs` is keyed by the domain event name; each entry carries annotations `x-cloudevents-type`,
 * `x-schema-version` and `x-published` (internal types never appear in the feed).
 * `x-cloudevents-types` maps every published CloudEvents type to its `$defs` entry, and the
 * document itself validates the `data` of any published event (`anyOf`).
 */
import { SECRET_FIELDS, eventDefinitions } from '../domain/events.js'
import { eventTypes } from './cloudevents.js'
import { REDACTED } from './redact.js'

type Json = Record<string, unknown>

const secret = new Set<string>(SECRET_FIELDS)

/** A plain-JSON copy without `$id` (ids inside `$defs` would change how references resolve). */
function clean (schema: unknown): unknown {
  if (Array.isArray(schema)) return schema.map(clean)
  if (schema === null || typeof schema !== 'object') return schema
  return Object.fromEntries(Object.entries(schema).filter(([key]) => key !== '$id').map(([key, value]) => [key, clean(value)]))
}

function annotateSecrets (schema: Json): Json {
  const properties = schema.properties as Record<string, Json> | undefined
  if (properties === undefined) return schema
  return {
    ...schema,
    properties: Object.fromEntries(Object.entries(properties).map(([name, property]) => [name, secret.has(name)
      ? { ...property, description: `A secret: always "${REDACTED}" in the API and the feed (only a full export holds it).` }
      : property]))
  }
}

export function eventSchemaDocument (): Json {
  const defs: Record<string, Json> = {}
  for (const definition of eventDefinitions) {
    const info = eventTypes.find(t => t.name === definition.type)!
    defs[definition.type] = {
      title: definition.type,
      ...annotateSecrets(clean(definition.schema) as Json),
      'x-cloudevents-type': info.cloudEventType,
      'x-schema-version': info.version,
      'x-published': info.published
    }
  }
  const published = eventTypes.filter(t => t.published)
  return {
    $schema: 'https://json-schema.org/draft/2020-12/schema',
    title: 'Identity Manager event data',
    description: 'The `data` of every event type, by domain event name in `$defs`. A CloudEvent of type T ' +
      'carries data valid against `$defs[x-cloudevents-types[T]]`.',
    'x-cloudevents-types': Object.fromEntries(published.map(t => [t.cloudEventType, `#/$defs/${t.name}`])),
    anyOf: published.map(t => ({ $ref: `#/$defs/${t.name}` })),
    $defs: defs
  }
}
