import type { UserEvent } from './events.js'

/**
 * Events after which every token issued before must stop working. Their count is the user's
 * credential version: tokens carry it (`cv`), and the read model counts the same events.
 */
export const CREDENTIAL_EVENTS: ReadonlySet<string> = new Set<UserEvent['type']>([
  'UserPasswordChanged', 'UserPasswordReset', 'UserDeactivated'
])

export const credentialVersion = (events: readonly { type: string }[]): number =>
  events.reduce((n, e) => CREDENTIAL_EVENTS.has(e.type) ? n + 1 : n, 0)
