/**
 * The four catalogs (roles, companies, providers, identification types) as one decider: the rules
 * are the same (define once, update the mutable fields, activate or deactivate), only the event
 * names and the fields each kind carries differ, and those live in the `kinds` table below.
 * Streams: role-<id>, company-<id>, provider-<id>, identification-type-<code>.
 */
import type { Decider } from './decider.js'
import { DomainError } from './errors.js'
import { streams, type CatalogEvent } from './events.js'

export type CatalogKind = 'role' | 'company' | 'provider' | 'identificationType'
export const CATALOG_KINDS: readonly CatalogKind[] = ['role', 'company', 'provider', 'identificationType']

export interface CatalogEntry {
  kind: CatalogKind
  id: string
  name: string
  description: string | null
  identificationType: string | null
  identificationNumber: string | null
  system: boolean
}

export type CatalogEntryState =
  | { status: 'none' }
  | ({ status: 'active' | 'inactive' } & CatalogEntry)

export type CatalogCommand =
  | { type: 'DefineCatalogEntry', data: { kind: CatalogKind, id: string, name: string, description?: string | null, identificationType?: string | null, identificationNumber?: string | null, system?: boolean } }
  | { type: 'UpdateCatalogEntry', data: { kind: CatalogKind, id: string, name: string, description?: string | null, identificationType?: string | null, identificationNumber?: string | null, status: 'active' | 'inactive' } }

type MutableField = 'name' | 'description' | 'identificationType' | 'identificationNumber'

interface KindRules {
  readonly stream: (id: string) => string
  /** What UpdateCatalogEntry replaces; anything else a command carries for this kind is ignored. */
  readonly mutable: readonly MutableField[]
  readonly defined: (entry: CatalogEntry) => CatalogEvent
  readonly updated: (entry: CatalogEntry) => CatalogEvent
  readonly deactivated: (id: string) => CatalogEvent
  readonly activated: (id: string) => CatalogEvent
}

const kinds: Readonly<Record<CatalogKind, KindRules>> = {
  role: {
    stream: streams.role,
    mutable: ['name', 'description'],
    // Role events carry the description as a string, '' when there is none.
    defined: ({ id, name, description, system }) => ({ type: 'RoleDefined', data: { id, name, description: description ?? '', system } }),
    updated: ({ id, name, description }) => ({ type: 'RoleUpdated', data: { id, name, description: description ?? '' } }),
    deactivated: id => ({ type: 'RoleDeactivated', data: { id } }),
    activated: id => ({ type: 'RoleActivated', data: { id } })
  },
  company: {
    stream: streams.company,
    mutable: ['name', 'identificationType', 'identificationNumber'],
    defined: ({ id, name, identificationType, identificationNumber }) => ({ type: 'CompanyDefined', data: { id, name, identificationType, identificationNumber } }),
    updated: ({ id, name, identificationType, identificationNumber }) => ({ type: 'CompanyUpdated', data: { id, name, identificationType, identificationNumber } }),
    deactivated: id => ({ type: 'CompanyDeactivated', data: { id } }),
    activated: id => ({ type: 'CompanyActivated', data: { id } })
  },
  provider: {
    stream: streams.provider,
    mutable: ['name', 'identificationType', 'identificationNumber'],
    defined: ({ id, name, identificationType, identificationNumber }) => ({ type: 'ProviderDefined', data: { id, name, identificationType, identificationNumber } }),
    updated: ({ id, name, identificationType, identificationNumber }) => ({ type: 'ProviderUpdated', data: { id, name, identificationType, identificationNumber } }),
    deactivated: id => ({ type: 'ProviderDeactivated', data: { id } }),
    activated: id => ({ type: 'ProviderActivated', data: { id } })
  },
  identificationType: {
    stream: streams.identificationType,
    mutable: ['name'],
    defined: ({ id, name }) => ({ type: 'IdentificationTypeDefined', data: { id, name } }),
    updated: ({ id, name }) => ({ type: 'IdentificationTypeUpdated', data: { id, name } }),
    deactivated: id => ({ type: 'IdentificationTypeDeactivated', data: { id } }),
    activated: id => ({ type: 'IdentificationTypeActivated', data: { id } })
  }
}

export const catalogStream = (kind: CatalogKind, id: string): string => kinds[kind].stream(id)

/** Keeps only the fields this kind has, with null (or false) for what it lacks or was omitted. */
const entryOf = (data: CatalogCommand['data'], system: boolean): CatalogEntry => {
  const has = (field: MutableField) => kinds[data.kind].mutable.includes(field)
  return {
    kind: data.kind,
    id: data.id,
    name: data.name,
    // '' and null mean the same for a role's description: events cannot tell them apart.
    description: has('description') ? (data.description ?? '') || null : null,
    identificationType: has('identificationType') ? data.identificationType ?? null : null,
    identificationNumber: has('identificationNumber') ? data.identificationNumber ?? null : null,
    system: data.kind === 'role' && system
  }
}

const decide = (command: CatalogCommand, state: CatalogEntryState): CatalogEvent[] => {
  const { kind, id } = command.data
  const rules = kinds[kind]
  switch (command.type) {
    case 'DefineCatalogEntry':
      if (state.status !== 'none') throw new DomainError('CATALOG_ENTRY_EXISTS', `The ${kind} ${id} already exists`, { kind, id })
      return [rules.defined(entryOf(command.data, command.data.system ?? false))]
    case 'UpdateCatalogEntry': {
      if (state.status === 'none') throw new DomainError('CATALOG_ENTRY_NOT_FOUND', `There is no ${kind} ${id}`, { kind, id })
      const { status } = command.data
      if (state.system && status === 'inactive') {
        throw new DomainError('SYSTEM_ROLE_PROTECTED', `The system role ${id} cannot be deactivated`, { kind, id })
      }
      const next = entryOf(command.data, state.system)
      const events: CatalogEvent[] = []
      if (rules.mutable.some(field => next[field] !== state[field])) events.push(rules.updated(next))
      if (status !== state.status) events.push(status === 'active' ? rules.activated(id) : rules.deactivated(id))
      return events
    }
    default: {
      const unknown: never = command
      throw new TypeError(`unknown catalog command ${JSON.stringify(unknown)}`)
    }
  }
}

const defined = (kind: CatalogKind, id: string, name: string, rest: Partial<CatalogEntry> = {}): CatalogEntryState => ({
  status: 'active', kind, id, name, description: null, identificationType: null, identificationNumber: null, system: false, ...rest
})

const patch = (state: CatalogEntryState, change: Partial<CatalogEntry> & { status?: 'active' | 'inactive' }): CatalogEntryState =>
  state.status === 'none' ? state : { ...state, ...change }

const evolve = (state: CatalogEntryState, event: CatalogEvent): CatalogEntryState => {
  switch (event.type) {
    case 'RoleDefined': {
      const { id, name, description, system } = event.data
      return defined('role', id, name, { description: description || null, system })
    }
    case 'CompanyDefined':
    case 'ProviderDefined': {
      const { id, name, identificationType, identificationNumber } = event.data
      return defined(event.type === 'CompanyDefined' ? 'company' : 'provider', id, name, { identificationType, identificationNumber })
    }
    case 'IdentificationTypeDefined':
      return defined('identificationType', event.data.id, event.data.name)
    case 'RoleUpdated':
      return patch(state, { name: event.data.name, description: event.data.description || null })
    case 'CompanyUpdated':
    case 'ProviderUpdated': {
      const { name, identificationType, identificationNumber } = event.data
      return patch(state, { name, identificationType, identificationNumber })
    }
    case 'IdentificationTypeUpdated':
      return patch(state, { name: event.data.name })
    case 'RoleDeactivated':
    case 'CompanyDeactivated':
    case 'ProviderDeactivated':
    case 'IdentificationTypeDeactivated':
      return patch(state, { status: 'inactive' })
    case 'RoleActivated':
    case 'CompanyActivated':
    case 'ProviderActivated':
    case 'IdentificationTypeActivated':
      return patch(state, { status: 'active' })
    default: {
      const unknown: never = event
      return unknown
    }
  }
}

export const catalogDecider: Decider<CatalogCommand, CatalogEntryState, CatalogEvent> = {
  initialState: () => ({ status: 'none' }),
  evolve,
  decide
}
