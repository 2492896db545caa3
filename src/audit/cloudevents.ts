/**
 * The downstream view of the log: recorded events as CloudEvents 1.0 (structured JSON mode).
 *
 * Type names: `dev.identity-manager.<aggregate>.<action>.v<schema version>`, derived from the
 * domain event name by splitting off the aggregate prefix and writing both halves in kebab-case:
 * UserRoleAssigned v1 → dev.identity-manager.user.role-assigned.v1, AuthenticationFailed v1 →
 * dev.identity-manager.authentication.failed.v1, IdentificationTypeDefined v1 →
 * dev.identity-manager.identification-type.defined.v1. A new schema version is a new type, so a
 * consumer never receives a shape it did not subscribe to.
 *
 * Published streams: users (`user-<id>`, its logins `auth-<id>` and its second factors
 * `mfa-<id>`, all with subject `users/<id>`) and the catalogs. Internal streams (uniqueness reservations, the admin-seat set,
 * failed logins of unknown usernames) are not published, so feed positions have gaps.
 */
import { eventDefinitions, eventVersion, type EventType } from '../domain/events.js'
import type { JsonObject, RecordedEvent } from '../eventstore/port.js'
import { redact } from './redact.js'

export const TYPE_PREFIX = 'dev.identity-manager'

/** Aggregate prefixes of the domain event names. */
const AGGREGATES = ['IdentificationType', 'Authentication', 'RecoveryCodes', 'RecoveryCode', 'MfaFactors', 'AdminSeat', 'Provider', 'Company', 'Value', 'Totp', 'Role', 'User'] as const

const kebab = (name: string): string => name.replace(/([a-z0-9])([A-Z])/g, '$1-$2').toLowerCase()

/** The CloudEvents type of a domain event type at a schema version. */
export function cloudEventType (type: string, version: number): string {
  const aggregate = AGGREGATES.find(prefix => type.startsWith(prefix) && type.length > prefix.length)
  const [namespace, action] = aggregate === undefined ? ['event', type] : [aggregate, type.slice(aggregate.length)]
  return `${TYPE_PREFIX}.${kebab(namespace)}.${kebab(action)}.v${version}`
}

/** Types that only ever live in internal streams: never in the feed. */
const INTERNAL_TYPES = new Set<string>(['ValueReserved', 'ValueReleased', 'AdminSeatClaimed', 'AdminSeatReleased'])

export interface EventTypeInfo {
  readonly name: EventType
  readonly version: number
  readonly cloudEventType: string
  readonly published: boolean
}

export const eventTypes: readonly EventTypeInfo[] = eventDefinitions.map(d => ({
  name: d.type,
  version: d.version,
  cloudEventType: cloudEventType(d.type, d.version),
  published: !INTERNAL_TYPES.has(d.type)
}))

const SUBJECTS: readonly [prefix: string, collection: string][] = [
  ['user-', 'users'],
  ['auth-', 'users'],
  // Second factors (sealed secrets and code hashes redacted like password hashes).
  ['mfa-', 'users'],
  ['role-', 'roles'],
  ['company-', 'companies'],
  ['provider-', 'providers'],
  ['identification-type-', 'identification-types']
]

/** `users/<id>`, `roles/<id>`, …; null for an internal stream (not published). */
export function subjectOf (stream: string): string | null {
  if (stream.startsWith('auth-unknown-')) return null
  for (const [prefix, collection] of SUBJECTS) {
    if (stream.startsWith(prefix) && stream.length > prefix.length) return `${collection}/${stream.slice(prefix.length)}`
  }
  return null
}

export const isPublished = (event: Pick<RecordedEvent, 'stream'>): boolean => subjectOf(event.stream) !== null

export interface CloudEvent {
  readonly specversion: '1.0'
  readonly id: string
  readonly source: string
  readonly type: string
  readonly subject: string
  readonly time: string
  readonly datacontenttype: 'application/json'
  readonly data: JsonObject
  readonly position: number
  readonly streamrevision: number
  readonly correlationid?: string
  readonly causationid?: string
  readonly actorid?: string
}

const text = (value: unknown): string | undefined => typeof value === 'string' && value !== '' ? value : undefined

/** A published event as a CloudEvent, secrets redacted. Extension attributes that are null (the system actor) are left out. */
export function toCloudEvent (event: RecordedEvent, source: string): CloudEvent {
  const subject = subjectOf(event.stream)
  if (subject === null) throw new TypeError(`stream ${event.stream} is internal and not published`)
  const metadata = event.metadata
  const correlationid = text(metadata.correlationId)
  const causationid = text(metadata.causationId)
  const actorid = text(metadata.actorId)
  return {
    specversion: '1.0',
    id: event.id,
    source,
    type: cloudEventTypeOf(event),
    subject,
    time: text(metadata.occurredAt) ?? event.recordedAt,
    datacontenttype: 'application/json',
    data: redact(event.data),
    position: event.position,
    streamrevision: event.revision,
    ...(correlationid === undefined ? {} : { correlationid }),
    ...(causationid === undefined ? {} : { causationid }),
    ...(actorid === undefined ? {} : { actorid })
  }
}

function versionOf (type: string): number {
  return eventDefinitions.some(d => d.type === type) ? eventVersion(type as EventType) : 1
}

/** Selects events by type; null selects every published event. */
export type TypeFilter = ((event: RecordedEvent) => boolean) | null

/**
 * A `type` filter: each entry is a CloudEvents type (that exact type and version) or a domain
 * event name (every schema version of it). Entries that name no published type are returned
 * instead, for a 400.
 */
export function resolveTypeFilter (entries: readonly string[]): { ok: true, filter: TypeFilter } | { ok: false, unknown: string[] } {
  if (entries.length === 0) return { ok: true, filter: null }
  const names = new Set<string>()
  const ceTypes = new Set<string>()
  const unknown: string[] = []
  for (const entry of entries) {
    const info = eventTypes.find(t => t.published && (t.name === entry || t.cloudEventType === entry))
    if (info === undefined) unknown.push(entry)
    else if (info.name === entry) names.add(entry)
    else ceTypes.add(entry)
  }
  if (unknown.length > 0) return { ok: false, unknown }
  return { ok: true, filter: event => names.has(event.type) || (ceTypes.size > 0 && ceTypes.has(cloudEventTypeOf(event))) }
}

/** The CloudEvents type of a recorded event (its own schema version). */
export function cloudEventTypeOf (event: RecordedEvent): string {
  const version = event.metadata.schemaVersion
  return cloudEventType(event.type, typeof version === 'number' ? version : versionOf(event.type))
}

/** What the feed and the stream deliver: published, and of a selected type when a filter is set. */
export function feedSelects (event: RecordedEvent, filter: TypeFilter): boolean {
  return isPublished(event) && (filter === null || filter(event))
}
