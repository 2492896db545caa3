/**
 * Keeps the identity-admins seat set a subset of the real active admins: a seat is released
 * BEFORE a command that removes admin rights is appended (this is where LAST_ADMIN is decided),
 * and claimed AFTER a user has become an active admin. See src/domain/admin-seats.ts.
 */
import { adminSeatsDecider } from '../domain/admin-seats.js'
import { streams } from '../domain/events.js'
import { handleCommand, type CommandContext, type HandlerDeps } from './handler.js'

export async function releaseSeat (deps: HandlerDeps, userId: string, ctx: CommandContext): Promise<void> {
  await handleCommand(deps, adminSeatsDecider, streams.adminSeats, { type: 'ReleaseSeat', data: { userId } }, ctx)
}

export async function claimSeat (deps: HandlerDeps, userId: string, ctx: CommandContext): Promise<void> {
  await handleCommand(deps, adminSeatsDecider, streams.adminSeats, { type: 'ClaimSeat', data: { userId } }, ctx)
}
