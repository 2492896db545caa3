/** The shapes the console reads from the API (see /openapi.json), and who may do what. */

import { ROLES } from '../domain/roles.js'
import type { ProviderLinkView, UserView } from '../projections/user-view.js'
import type { SessionView } from '../projections/sessions.js'
import type { ClientView } from '../projections/clients.js'

/** The user as the API returns it: the one declaration, src/projections/user-view.ts. */
export type User = UserView
export type ProviderLink = ProviderLinkView
/** A session as GET /v1/users/{id}/sessions lists it: src/projections/sessions.ts. */
export type Session = SessionView
/** An OAuth client as /v1/clients returns it: src/projections/clients.ts. */
export type OAuthClient = ClientView

export interface CatalogEntry {
  id: string
  name: string
  status: 'active' | 'inactive'
  description?: string
  system?: boolean
  identificationType?: string | null
  identificationNumber?: string | null
}

export interface HistoryItem {
  id: string
  position: number
  revision: number
  stream: string
  type: string
  occurredAt: string
  actor: { id: string | null, username: string | null }
  correlationId: string | null
  causationId: string | null
  data: Record<string, unknown>
}

export interface CloudEvent {
  id: string
  type: string
  subject: string
  time: string
  position: number
  correlationid?: string
  actorid?: string
  data: Record<string, unknown>
}

export const ADMIN = ROLES.admin
export const AUDITOR = ROLES.auditor
export const SUBSCRIBER = ROLES.subscriber

/**
 * What the signed-in user may be offered. The API decides anyway (a hidden button is a courtesy,
 * not a control); these mirror its rules so nobody is shown an action that would be refused.
 */
export interface Access {
  /** identity-admin: every write. */
  manage: boolean
  /** identity-admin or identity-auditor: users, catalogs, history, as-of. */
  read: boolean
  /** Those two or identity-subscriber: the event feed. */
  feed: boolean
}

export function accessOf (roles: readonly string[]): Access {
  const manage = roles.includes(ADMIN)
  const read = manage || roles.includes(AUDITOR)
  return { manage, read, feed: read || roles.includes(SUBSCRIBER) }
}

export const fullName = (user: Pick<User, 'firstName' | 'lastName'>): string => `${user.firstName} ${user.lastName}`.trim()

export function formatTime (iso: string): string {
  const date = new Date(iso)
  return Number.isNaN(date.getTime()) ? iso : date.toLocaleString(undefined, { dateStyle: 'medium', timeStyle: 'medium' })
}
