/**
 * OAuth clients, stream client-<clientId>: registered, changed, (de)activated and their secrets
 * rotated by identity-admin. A confidential client has a secret; only its SHA-256 is ever stored
 * (a client secret is 256 random bits, so a fast hash is as strong as a slow one, and the token
 * endpoint stays fast). A rotation keeps the previous hash valid until `previousExpiresAt`.
 *
 * A service account is a confidential client with the client_credentials grant: its tokens'
 * `sub` is the client id, its roles are the client's.
 */
import type { Decider } from './decider.js'
import { DomainError } from './errors.js'
import type { ClientEvent } from './events.js'

export type ClientType = 'confidential' | 'public'
export const GRANT_TYPES = ['authorization_code', 'refresh_token', 'client_credentials'] as const
export type GrantType = (typeof GRANT_TYPES)[number]

export interface ClientSettings {
  readonly name: string
  readonly grantTypes: readonly GrantType[]
  readonly redirectUris: readonly string[]
  readonly postLogoutRedirectUris: readonly string[]
  readonly roles: readonly string[]
  /** Third-party clients get a consent step on the sign-in page; first-party ones do not. */
  readonly thirdParty: boolean
}

export type ClientState =
  | { readonly status: 'none' }
  | ({
    readonly status: 'active' | 'inactive'
    readonly clientId: string
    readonly type: ClientType
    readonly secretHash: string | null
    readonly previousSecretHash: string | null
    readonly previousExpiresAt: string | null
  } & ClientSettings)

export type ClientCommand =
  | { type: 'RegisterClient', data: { clientId: string, type: ClientType, secretHash: string | null, activeRoles: readonly string[] } & ClientSettings }
  | { type: 'UpdateClient', data: { clientId: string, status: 'active' | 'inactive', activeRoles: readonly string[] } & ClientSettings }
  | { type: 'RotateClientSecret', data: { clientId: string, secretHash: string, now: string, overlapSeconds: number } }

const initialState = (): ClientState => ({ status: 'none' })

/** The rules every registration and change must keep. */
function check (type: ClientType, s: ClientSettings, activeRoles: readonly string[]): void {
  const unknown = s.roles.find(r => !activeRoles.includes(r))
  if (unknown !== undefined) throw new DomainError('ROLE_UNKNOWN', `unknown or inactive role ${unknown}`, { roleId: unknown })
  if (type === 'public' && s.grantTypes.includes('client_credentials')) {
    throw new DomainError('CLIENT_INVALID', 'a public client cannot use client_credentials (it has no secret)', { field: 'grantTypes' })
  }
  if (s.grantTypes.includes('authorization_code') && s.redirectUris.length === 0) {
    throw new DomainError('CLIENT_INVALID', 'the authorization code grant needs at least one redirect URI', { field: 'redirectUris' })
  }
  if (s.grantTypes.includes('refresh_token') && !s.grantTypes.includes('authorization_code')) {
    throw new DomainError('CLIENT_INVALID', 'refresh tokens come from the authorization code grant: add it', { field: 'grantTypes' })
  }
  if (type === 'public' && s.roles.length > 0) {
    throw new DomainError('CLIENT_INVALID', 'roles are for service accounts (confidential clients with client_credentials)', { field: 'roles' })
  }
}

interface MutableSettings { name: string, grantTypes: GrantType[], redirectUris: string[], postLogoutRedirectUris: string[], roles: string[], thirdParty: boolean }

const settingsOf = (d: ClientSettings): MutableSettings => ({
  name: d.name,
  grantTypes: [...d.grantTypes],
  redirectUris: [...d.redirectUris],
  postLogoutRedirectUris: [...d.postLogoutRedirectUris],
  roles: [...d.roles].sort(),
  thirdParty: d.thirdParty
})

const same = (a: ClientSettings, b: ClientSettings): boolean => JSON.stringify(settingsOf(a)) === JSON.stringify(settingsOf(b))

function decide (command: ClientCommand, state: ClientState): ClientEvent[] {
  switch (command.type) {
    case 'RegisterClient': {
      const { clientId, type, secretHash, activeRoles } = command.data
      if (state.status !== 'none') throw new DomainError('CLIENT_EXISTS', 'the client already exists', { clientId })
      check(type, command.data, activeRoles)
      if ((type === 'confidential') !== (secretHash !== null)) throw new TypeError('a confidential client, and only one, has a secret')
      return [{ type: 'ClientRegistered', data: { clientId, type, secretHash, ...settingsOf(command.data) } }]
    }
    case 'UpdateClient': {
      const { clientId, status, activeRoles } = command.data
      if (state.status === 'none') throw new DomainError('CLIENT_NOT_FOUND', 'no such client', { clientId })
      const events: ClientEvent[] = []
      if (!same(state, command.data)) {
        check(state.type, command.data, activeRoles.concat(state.roles.filter(r => command.data.roles.includes(r))))
        events.push({ type: 'ClientUpdated', data: { clientId, ...settingsOf(command.data) } })
      }
      if (status !== state.status) events.push({ type: status === 'inactive' ? 'ClientDeactivated' : 'ClientActivated', data: { clientId } })
      return events
    }
    case 'RotateClientSecret': {
      const { clientId, secretHash, now, overlapSeconds } = command.data
      if (state.status === 'none') throw new DomainError('CLIENT_NOT_FOUND', 'no such client', { clientId })
      if (state.type !== 'confidential') throw new DomainError('CLIENT_INVALID', 'a public client has no secret', { field: 'type' })
      const previousExpiresAt = new Date(Date.parse(now) + overlapSeconds * 1000).toISOString()
      return [{ type: 'ClientSecretRotated', data: { clientId, secretHash, previousExpiresAt } }]
    }
    default: {
      const unknown: never = command
      throw new TypeError(`unknown client command ${JSON.stringify(unknown)}`)
    }
  }
}

function evolve (state: ClientState, event: ClientEvent): ClientState {
  switch (event.type) {
    case 'ClientRegistered':
      return { status: 'active', ...event.data, previousSecretHash: null, previousExpiresAt: null }
    case 'ClientUpdated':
      return state.status === 'none' ? state : { ...state, ...settingsOf(event.data) }
    case 'ClientDeactivated':
      return state.status === 'none' ? state : { ...state, status: 'inactive' }
    case 'ClientActivated':
      return state.status === 'none' ? state : { ...state, status: 'active' }
    case 'ClientSecretRotated':
      return state.status === 'none'
        ? state
        : { ...state, secretHash: event.data.secretHash, previousSecretHash: state.secretHash, previousExpiresAt: event.data.previousExpiresAt }
    default: {
      const unknown: never = event
      return unknown
    }
  }
}

export const clientDecider: Decider<ClientCommand, ClientState, ClientEvent> = { initialState, evolve, decide }
