/**
 * The event reference (docs/events.md) generated from the TypeBox schemas, so the documentation
 * cannot drift from the code: a test compares the file with this output.
 */
import { eventDefinitions } from './events.js'

interface JsonSchema {
  type?: string
  format?: string
  pattern?: string
  const?: unknown
  anyOf?: JsonSchema[]
  items?: JsonSchema
  properties?: Record<string, JsonSchema>
  required?: string[]
  minimum?: number
}

const STREAM_OF: readonly [RegExp, string][] = [
  [/^(User(Registered|Profile|Role|Password|Deactivated|Activated|Company|Provider))/, '`user-<userId>`'],
  [/^(Authentication|UserLockedOut|UserUnlocked)/, '`auth-<userId>` (unknown usernames: `auth-unknown-<sha256>`)'],
  [/^Role/, '`role-<id>`'],
  [/^Company/, '`company-<id>`'],
  [/^Provider/, '`provider-<id>`'],
  [/^IdentificationType/, '`identification-type-<code>`'],
  [/^Value/, '`reservation-<kind>-<value>`'],
  [/^AdminSeat/, '`identity-admins`'],
  [/^Session/, '`sessions-<userId>`'],
  [/^Client/, '`client-<clientId>`'],
  [/^(Totp|RecoveryCode|MfaFactors)/, '`mfa-<userId>`']
]

export function describeType (s: JsonSchema): string {
  if (s.anyOf !== undefined) return s.anyOf.map(describeType).join(' \\| ')
  if (s.const !== undefined) return `\`${JSON.stringify(s.const)}\``
  if (s.type === 'array') return `${describeType(s.items ?? {})}[]`
  if (s.type === 'object') return 'object'
  if (s.format !== undefined) return `${s.type} (${s.format})`
  if (s.type === 'integer' && s.minimum !== undefined) return `integer ≥ ${s.minimum}`
  return s.type ?? 'any'
}

export function renderEventReference (): string {
  const lines = [
    '# Event reference',
    '',
    'Generated from the TypeBox schemas in `src/domain/events.ts` (a test keeps this file in step;',
    'regenerate with `UPDATE_DOCS=1 npx tap test/docs.test.ts`). Every event also carries metadata:',
    '`schemaVersion`, `occurredAt`, `actorId`, `actorUsername`, `correlationId`, `causationId`,',
    '`prevHash`, `hash`. `passwordHash` is a secret: it is redacted in every API and feed.',
    ''
  ]
  for (const def of eventDefinitions) {
    const schema = def.schema as unknown as JsonSchema
    const stream = STREAM_OF.find(([re]) => re.test(def.type))?.[1] ?? '?'
    lines.push(`## ${def.type} (v${def.version})`, '', `Stream: ${stream}`, '', '| field | type |', '|---|---|')
    for (const [name, prop] of Object.entries(schema.properties ?? {})) {
      const optional = schema.required?.includes(name) === true ? '' : ' (optional)'
      lines.push(`| \`${name}\`${optional} | ${describeType(prop)} |`)
    }
    lines.push('')
  }
  return lines.join('\n')
}
