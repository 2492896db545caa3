/**
 * Session use cases over the sessions-<userId> stream (src/domain/session.ts). Every user's
 * sessions share one stream, so parallel refreshes of different sessions of one user may
 * conflict: the handler retries (more often than for user writes; the decisions are tiny).
 */
import type { SessionEndReason } from '../domain/events.js'
import { streams } from '../domain/events.js'
import { sessionDecider, type SessionLifetimes, type SessionsState } from '../domain/session.js'
import { handleCommand, type CommandContext, type Handled, type HandlerDeps } from './handler.js'

export interface SessionDeps extends HandlerDeps {
  readonly sessionLifetimes: SessionLifetimes
}

export interface StartSessionInput {
  readonly userId: string
  readonly clientId: string
  readonly amr: readonly string[]
  readonly clientAddress: string | null
  readonly userAgent: string | null
  readonly credentialVersion: number
}

export interface StartedSession {
  readonly sessionId: string
  readonly idleExpiresAt: string
  readonly expiresAt: string
  readonly position: number | null
}

const OPTIONS = { maxAttempts: 25 } as const

const run = async (deps: HandlerDeps, userId: string, command: Parameters<typeof sessionDecider.decide>[0], ctx: CommandContext): Promise<Handled<SessionsState>> =>
  await handleCommand(deps, sessionDecider, streams.sessions(userId), command, ctx, OPTIONS)

export async function startSession (deps: SessionDeps, input: StartSessionInput, ctx: CommandContext): Promise<StartedSession> {
  const sessionId = deps.newId()
  const handled = await run(deps, input.userId, {
    type: 'StartSession',
    data: {
      ...input,
      sessionId,
      clientAddress: input.clientAddress?.slice(0, 100) ?? null,
      userAgent: input.userAgent?.slice(0, 500) ?? null,
      now: deps.clock().toISOString(),
      lifetimes: deps.sessionLifetimes
    }
  }, ctx)
  const live = handled.state.live.get(sessionId)
  if (live === undefined) throw new Error(`session ${sessionId} did not start`)
  return { sessionId, idleExpiresAt: live.idleExpiresAt, expiresAt: live.expiresAt, position: handled.position }
}

/** A refresh grant used the session. Throws SESSION_NOT_FOUND when it is not live any more. */
export async function refreshSession (deps: SessionDeps, userId: string, sessionId: string, ctx: CommandContext): Promise<{ live: boolean, position: number | null }> {
  const handled = await run(deps, userId, {
    type: 'RefreshSession',
    data: { sessionId, userId, now: deps.clock().toISOString(), lifetimes: deps.sessionLifetimes }
  }, ctx)
  return { live: handled.state.live.has(sessionId), position: handled.position }
}

/** Ends one session (idempotent). The position is null when it had already ended. */
export async function endSession (deps: HandlerDeps, userId: string, sessionId: string, reason: SessionEndReason, ctx: CommandContext): Promise<{ ended: boolean, position: number | null }> {
  const handled = await run(deps, userId, { type: 'EndSession', data: { sessionId, userId, reason, now: deps.clock().toISOString() } }, ctx)
  return { ended: handled.before.live.has(sessionId), position: handled.position }
}

/** Ends every live session of the user at once. */
export async function endAllSessions (deps: HandlerDeps, userId: string, reason: SessionEndReason, ctx: CommandContext): Promise<{ ended: number, position: number | null }> {
  const handled = await run(deps, userId, { type: 'EndAllSessions', data: { userId, reason, now: deps.clock().toISOString() } }, ctx)
  return { ended: handled.events.length, position: handled.position }
}
