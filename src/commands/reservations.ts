/**
 * Uniqueness across users (username, email, identification) through reservation streams, the
 * same on every event store adapter: a value is taken by appending ValueReserved to
 * reservation-<kind>-<value> at the revision that was read, so of two concurrent claims exactly
 * one wins.
 */
import { DomainError } from '../domain/errors.js'
import { streams } from '../domain/events.js'
import { reservationDecider, type ReservationKind } from '../domain/reservation.js'
import type { Claim } from '../domain/user-plan.js'
import type { Commands } from './deps.js'
import { deriveEventId, handleCommand, SYSTEM_ACTOR, type CommandContext } from './handler.js'

type ReservationDeps = Omit<Commands, 'execute'>

const DEFAULT_ORPHAN_SECONDS = 60

/**
 * Reserves the value for userId and returns the holder. That is userId, except when this is a
 * retry of the same request (same Idempotency-Key) that already reserved it for the user it
 * created then: the original user id is returned so the retry converges on the first result.
 */
export async function reserve (deps: ReservationDeps, kind: ReservationKind, value: string, userId: string, ctx: CommandContext): Promise<string> {
  const stream = streams.reservation(kind, value)
  const command = { type: 'Reserve' as const, data: { kind, value, userId } }
  try {
    await handleCommand(deps, reservationDecider, stream, command, ctx)
    // Under an Idempotency-Key a parallel retry of the same request may have appended the same
    // event id first, for the user id it chose: our append was then a no-op. Converge on it.
    return ctx.idempotencyKey === undefined ? userId : (await holderOf(deps, kind, value)) ?? userId
  } catch (err) {
    if (!(err instanceof DomainError) || err.code !== 'VALUE_TAKEN') throw err
    const { state: { holder }, last } = await deps.load(reservationDecider, stream)
    if (last === undefined || holder === null) throw err
    // Our own earlier attempt (same Idempotency-Key) reserved it: converge on its user.
    if (last.id === deriveEventId(ctx, stream, 'ValueReserved', last.revision)) return holder
    if (!(await isOrphan(deps, holder, String(last.metadata.occurredAt)))) throw err
    await release(deps, kind, value, holder, { ...ctx, actor: SYSTEM_ACTOR })
    await handleCommand(deps, reservationDecider, stream, command, ctx)
    return userId
  }
}

export async function release (deps: ReservationDeps, kind: ReservationKind, value: string, userId: string, ctx: CommandContext): Promise<void> {
  await handleCommand(deps, reservationDecider, streams.reservation(kind, value),
    { type: 'Release', data: { kind, value, userId } }, ctx)
}

/** Who holds the value now (null: free). */
export async function holderOf (deps: Pick<ReservationDeps, 'load'>, kind: ReservationKind, value: string): Promise<string | null> {
  return (await deps.load(reservationDecider, streams.reservation(kind, value))).state.holder
}

/** Throws VALUE_TAKEN (from the decider) when `reserve` would refuse the value. Reads only. */
async function refuseIfTaken (deps: ReservationDeps, kind: ReservationKind, value: string, userId: string, ctx: CommandContext): Promise<void> {
  const stream = streams.reservation(kind, value)
  const { state: { holder }, last } = await deps.load(reservationDecider, stream)
  if (last === undefined || holder === null || holder === userId) return
  if (last.id === deriveEventId(ctx, stream, 'ValueReserved', last.revision)) return
  if (await isOrphan(deps, holder, String(last.metadata.occurredAt))) return
  reservationDecider.decide({ type: 'Reserve', data: { kind, value, userId } }, { holder })
}

/** A crashed registration left the reservation: its user stream never appeared, and it is old. */
async function isOrphan (deps: ReservationDeps, holder: string, reservedAt: string): Promise<boolean> {
  const ageSeconds = (deps.clock().getTime() - Date.parse(reservedAt)) / 1000
  if (!(ageSeconds > (deps.orphanReservationSeconds ?? DEFAULT_ORPHAN_SECONDS))) return false
  const user = await deps.store.readStream(streams.user(holder), { maxCount: 1 })
  return user.length === 0
}

/** Reserves several values; on any failure releases those already taken, then rethrows. */
export async function reserveAll (
  deps: ReservationDeps,
  claims: readonly Claim[],
  userId: string,
  ctx: CommandContext
): Promise<string> {
  await payOwedReleases(deps)
  // A value someone else holds is refused before anything is appended, so a refused request
  // leaves no trace in the log; only a claim racing this one can still make it reserve and
  // release (the append below stays the arbiter).
  for (const claim of claims) await refuseIfTaken(deps, claim.kind, claim.value, userId, ctx)
  const taken: Claim[] = []
  let holder = userId
  try {
    for (const claim of claims) {
      holder = await reserve(deps, claim.kind, claim.value, holder, ctx)
      taken.push(claim)
    }
    return holder
  } catch (err) {
    await releaseAll(deps, taken, holder, ctx)
    throw err
  }
}

/**
 * Releases the values. A release the store refuses (full disk, outage) is not an error of the
 * caller's request: it is owed, and paid before the next reservation (see payOwedReleases), so
 * the caller's own failure (or success) is what the client hears.
 */
export async function releaseAll (
  deps: ReservationDeps,
  claims: readonly Claim[],
  userId: string,
  ctx: CommandContext
): Promise<void> {
  for (const claim of claims) {
    try {
      await release(deps, claim.kind, claim.value, userId, ctx)
    } catch {
      deps.owed.set(`${claim.kind}\0${claim.value}\0${userId}`, { ...claim, userId, ctx })
    }
  }
}

interface OwedRelease { readonly kind: ReservationKind, readonly value: string, readonly userId: string, readonly ctx: CommandContext }

/**
 * Compensations the store refused when they were due, in this process: a registration refused
 * for lack of space may have stored its reservations before the user event failed, and then the
 * releases fail too. Without this, retrying that registration once space is back would find its
 * own username taken until the orphan window passes. A release is safe to store late: only the
 * holder frees a value, so a value taken over since stays taken. (After a restart the list is gone
 * and the orphan takeover in `reserve` covers the same case.) Owned by the object
 * `createCommands` builds, so it is per event store and per composition root.
 */
export type OwedReleases = Map<string, OwedRelease>

export const createOwedReleases = (): OwedReleases => new Map()

/** Stores the releases still owed, oldest first; stops at the first the store refuses again. */
export async function payOwedReleases (deps: ReservationDeps): Promise<number> {
  const map = deps.owed
  if (map.size === 0) return 0
  let paid = 0
  for (const [key, debt] of [...map]) {
    try {
      await release(deps, debt.kind, debt.value, debt.userId, debt.ctx)
    } catch {
      break
    }
    map.delete(key)
    paid++
  }
  return paid
}
