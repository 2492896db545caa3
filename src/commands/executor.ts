/**
 * The one executor of user commands. Every user write, from any route, the CLI or bootstrap,
 * comes here as a `UserCommand`:
 *
 *   queue on user-<id> → load (fold cache) → If-Match → planUserCommand (pure: the events and
 *   what they mean for other streams) → the plan's steps in their fixed order → on a failure up
 *   to the append, the undo of each step already done, last first.
 *
 * The order and the compensations are data from src/domain/user-plan.ts; this file only carries
 * them out. Commands on one user queue in this process, so they never conflict with each other;
 * a revision conflict at the append means another process changed the user: the steps done are
 * undone and the command is planned again on the new state (bounded; never under If-Match).
 */
import { authorizeUserCommand, GLOBAL_AUTHORITY } from '../domain/company-scope.js'
import { streams } from '../domain/events.js'
import { compensationOf, planUserCommand, stepsOf, type Step, type Undo, type UserPlan } from '../domain/user-plan.js'
import { isActiveAdmin, userDecider, type UserCommand } from '../domain/user.js'
import { WrongExpectedRevisionError } from '../eventstore/port.js'
import { claimSeat, releaseSeat } from './admin-seats.js'
import { unlockAccount } from './authentication.js'
import type { Commands, ExecuteOptions, WriteResult } from './deps.js'
import type { Folded } from './fold-cache.js'
import { appendEvents, checkIfMatch, conflicted, createdByThisRequest, DEFAULT_ATTEMPTS, type CommandContext } from './handler.js'
import { releaseAll, reserveAll } from './reservations.js'
import type { UserState } from '../domain/user.js'

type Outcome =
  | { readonly type: 'done', readonly position: number | null }
  /** The values are held for another user id: this request (same Idempotency-Key) reserved them before. */
  | { readonly type: 'held-by', readonly userId: string }
  | { readonly type: 'conflict', readonly error: WrongExpectedRevisionError }

export function createExecutor (commands: Commands): Commands['execute'] {
  /** Runs the plan's steps; undoes what was done when a step up to the append fails. */
  async function run (plan: UserPlan, folded: Folded<UserState>, ctx: CommandContext): Promise<Outcome> {
    const steps = stepsOf(plan)
    let position: number | null = null
    for (const [index, step] of steps.entries()) {
      try {
        const result = await perform(step, plan, folded, ctx)
        if (typeof result === 'string') return { type: 'held-by', userId: result }
        if (typeof result === 'number') position = result
      } catch (err) {
        for (const undo of compensationOf(steps, index)) await compensate(undo, plan.userId, ctx)
        if (err instanceof WrongExpectedRevisionError) return { type: 'conflict', error: err }
        throw err
      }
    }
    return { type: 'done', position }
  }

  /** One step: a position when it appended, a user id when the values are another user's. */
  async function perform (step: Step, plan: UserPlan, folded: Folded<UserState>, ctx: CommandContext): Promise<number | string | null> {
    switch (step.type) {
      case 'reserve': {
        const holder = await reserveAll(commands, step.claims, plan.userId, ctx)
        return holder === plan.userId ? null : holder
      }
      case 'releaseSeat':
        await releaseSeat(commands, plan.userId, ctx)
        return null
      case 'append':
        return (await appendEvents(commands, streams.user(plan.userId), step.events, folded, ctx, 'stable')).position
      case 'claimSeat':
        await claimSeat(commands, plan.userId, ctx)
        return null
      case 'release':
        await releaseAll(commands, step.claims, plan.userId, ctx)
        return null
      case 'unlock':
        return await unlockAccount(commands, plan.userId, ctx)
      default: {
        const unknown: never = step
        throw new TypeError(`unknown step ${JSON.stringify(unknown)}`)
      }
    }
  }

  async function compensate (undo: Undo, userId: string, ctx: CommandContext): Promise<void> {
    switch (undo.type) {
      case 'release':
        await releaseAll(commands, undo.claims, userId, ctx)
        return
      case 'reclaimSeat':
        // From the user as it is now: another process may have changed it since the plan.
        if (isActiveAdmin((await commands.load(userDecider, streams.user(userId))).state)) await claimSeat(commands, userId, ctx)
        return
      default: {
        const unknown: never = undo
        throw new TypeError(`unknown undo ${JSON.stringify(unknown)}`)
      }
    }
  }

  return async function execute (command: UserCommand, ctx: CommandContext, options: ExecuteOptions = {}): Promise<WriteResult> {
    const attempts = options.ifMatch === undefined ? DEFAULT_ATTEMPTS : 1
    const authority = options.authority ?? GLOBAL_AUTHORITY
    return await commands.queue.run(streams.user(command.data.userId), async () => {
      let target = command
      for (let attempt = 1; ; attempt++) {
        const stream = streams.user(target.data.userId)
        const folded = await commands.load(userDecider, stream)
        // A missing user is 404 (the plan says so) whatever If-Match says, and so is one the
        // authority may not see; a stale one is 412 before any other rule is checked.
        authorizeUserCommand(authority, target, folded.state)
        if (folded.state.status !== 'none') checkIfMatch(options.ifMatch, folded.revision)
        const outcome = await run(planUserCommand(target, folded.state, authority), folded, ctx)
        switch (outcome.type) {
          case 'done':
            return { userId: target.data.userId, position: outcome.position }
          case 'held-by': {
            // A retry of a registration: answer as the first time if it got as far as the user,
            // else carry on as that user (its event ids derive from the same key).
            const replayed = await createdByThisRequest(commands.store, streams.user(outcome.userId), ctx)
            if (replayed !== null) return { userId: outcome.userId, position: replayed }
            target = { ...target, data: { ...target.data, userId: outcome.userId } } as UserCommand
            break
          }
          case 'conflict':
            conflicted(outcome.error, stream, options.ifMatch, attempt >= attempts)
        }
      }
    })
  }
}
