/** Request and response schemas of the audit and event-feed routes. */
import Type from 'typebox'

const PositionParam = (description: string) => Type.Integer({ minimum: 0, maximum: Number.MAX_SAFE_INTEGER, description })
const Limit = Type.Integer({ minimum: 1, maximum: 200, default: 50 })
const Data = Type.Record(Type.String(), Type.Unknown(), { description: 'The event data; secrets are "[redacted]"' })
const NullableString = Type.Union([Type.String(), Type.Null()])

export const AsOfQuery = Type.Object({
  asOf: Type.Optional(Type.String({ format: 'date-time', description: 'RFC 3339 instant: the user as it was then (identity-admin, identity-auditor)' }))
})

export const PageQuery = Type.Object({
  after: Type.Optional(PositionParam('Exclusive: items with a greater position (the nextCursor of the previous page)')),
  cursor: Type.Optional(PositionParam('The same as after')),
  limit: Type.Optional(Limit)
})

export const HistoryItem = Type.Object({
  id: Type.String({ format: 'uuid', description: 'The event id (also the CloudEvents id in the feed)' }),
  position: Type.Integer(),
  revision: Type.Integer(),
  stream: Type.String(),
  type: Type.String(),
  occurredAt: Type.String({ format: 'date-time' }),
  actor: Type.Object({ id: NullableString, username: NullableString }, { additionalProperties: false }),
  correlationId: NullableString,
  causationId: NullableString,
  data: Data
}, { additionalProperties: false, title: 'HistoryItem' })

const TypeFilter = Type.Array(Type.String({ minLength: 1, maxLength: 200 }), {
  maxItems: 50,
  description: 'A CloudEvents type (e.g. dev.identity-manager.user.role-assigned.v1) or a domain event name (UserRoleAssigned, every version); repeat to select several'
})

export const FeedQuery = Type.Object({
  after: Type.Optional(PositionParam('Exclusive: events with a greater position')),
  cursor: Type.Optional(PositionParam('The same as after')),
  limit: Type.Optional(Limit),
  type: Type.Optional(TypeFilter)
})

export const StreamQuery = Type.Object({
  after: Type.Optional(PositionParam('Resume after this position (Last-Event-ID wins when both are sent)')),
  type: Type.Optional(TypeFilter)
})

export const CloudEventSchema = Type.Object({
  specversion: Type.Literal('1.0'),
  id: Type.String(),
  source: Type.String(),
  type: Type.String(),
  subject: Type.String(),
  time: Type.String({ format: 'date-time' }),
  datacontenttype: Type.Literal('application/json'),
  data: Data,
  position: Type.Integer({ description: 'Global position; strictly increasing, with gaps' }),
  streamrevision: Type.Integer(),
  correlationid: Type.Optional(Type.String()),
  causationid: Type.Optional(Type.String()),
  actorid: Type.Optional(Type.String({ description: 'Absent for events the system appended on its own' }))
}, { additionalProperties: false, title: 'CloudEvent' })

export const BrokenLink = Type.Object({
  stream: Type.String(),
  revision: Type.Integer(),
  expected: Type.String(),
  found: Type.String()
}, { additionalProperties: false })

export const VerifyResponse = Type.Object({
  ok: Type.Boolean(),
  streams: Type.Integer(),
  events: Type.Integer(),
  brokenLinks: Type.Optional(Type.Array(BrokenLink)),
  truncated: Type.Optional(Type.Boolean({ description: 'More links are broken than listed' }))
}, { additionalProperties: false, title: 'ChainVerification' })
