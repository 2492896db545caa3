/**
 * The system roles, named once: bootstrap defines them (seed.ts), the routes' policies, the
 * admin-seat guard and the console's menus refer to them from here.
 */
export const ROLES = Object.freeze({
  /** May do everything; passes every role check. Never zero of them (admin-seats.ts). */
  admin: 'identity-admin',
  /** Reads users, catalogs and the event history. */
  auditor: 'identity-auditor',
  /** Reads the event feed and stream. */
  subscriber: 'identity-subscriber'
} as const)

export const ADMIN_ROLE = ROLES.admin
