/**
 * The one generic command handler: load the stream, decide, append with the revision that was
 * loaded. Commands on one stream queue in this process (`commands.queue`), so they do not race
 * each other; a revision conflict can then only come from another process sharing the store, and
 * the handler loads and decides again (bounded), never re-appending stale events. With a
 * client's If-Match it does not retry. User commands, whose decisions reach into other streams,
 * go through the plan executor (executor.ts), which appends with `appendEvents` below.
 */
import { v5 as uuidv5 } from 'uuid'
import type { Decider } from '../domain/decider.js'
import { eventVersion, type DomainEvent } from '../domain/events.js'
import { GENESIS, chainHash } from '../eventstore/hash-chain.js'
import { WrongExpectedRevisionError, type EventStore, type EventToAppend, type JsonObject, type RecordedEvent } from '../eventstore/port.js'
import type { Commands } from './deps.js'
import { ConcurrencyError, PreconditionFailedError } from './errors.js'
import type { Folded } from './fold-cache.js'

export interface Actor { readonly id: string | null, readonly username: string | null }

/** Who asks, and which request and command the resulting events belong to. */
export interface CommandContext {
  readonly actor: Actor
  /** The request id: every event of one request shares it. */
  readonly correlationId: string
  /** The id of this command: the causation of its events. */
  readonly commandId: string
  /** From an Idempotency-Key: event ids derived from it make a retried request a no-op. */
  readonly idempotencyKey?: string
}

export type HandlerDeps = Pick<Commands, 'store' | 'clock' | 'newId' | 'load' | 'queue'>

export interface Handled<S> {
  readonly before: S
  readonly state: S
  readonly events: readonly DomainEvent[]
  /** The stream's last revision after the command (-1: the stream does not exist). */
  readonly revision: number
  /** Position of the last appended event; null when the command appended nothing. */
  readonly position: number | null
}

export const SYSTEM_ACTOR: Actor = Object.freeze({ id: null, username: 'system' })
const IDEMPOTENCY_NAMESPACE = '6f1c9a52-3a7e-4c1b-9f0e-5d2b8e4a7c31'
export const DEFAULT_ATTEMPTS = 5

export interface HandleOptions {
  /** The version the client last saw (If-Match). A mismatch is 412, never retried. */
  readonly ifMatch?: number
  readonly maxAttempts?: number
  /**
   * How ids derive from an Idempotency-Key. 'stable' (the request's primary stream): the same
   * ids whatever happened to the stream since, so a retry after a concurrent change is still a
   * no-op. 'per-revision' (default; auxiliary streams such as reservations, which a failed
   * request may compensate): the revision is part of the id, so a retry after a compensation
   * appends for real instead of being mistaken for the undone append.
   */
  readonly idempotency?: 'stable' | 'per-revision'
}

export async function handleCommand<C, S, E extends DomainEvent> (
  deps: HandlerDeps,
  decider: Decider<C, S, E>,
  stream: string,
  command: C,
  ctx: CommandContext,
  options: HandleOptions = {}
): Promise<Handled<S>> {
  const attempts = options.ifMatch === undefined ? (options.maxAttempts ?? DEFAULT_ATTEMPTS) : 1
  return await deps.queue.run(stream, async () => {
    for (let attempt = 1; ; attempt++) {
      const folded = await deps.load(decider, stream)
      const before = folded.state
      checkIfMatch(options.ifMatch, folded.revision)
      const events = decider.decide(command, before)
      const state = events.reduce(decider.evolve, before)
      if (events.length === 0) return { before, state, events, revision: folded.revision, position: null }
      try {
        const appended = await appendEvents(deps, stream, events, folded, ctx, options.idempotency ?? 'per-revision')
        return { before, state, events, ...appended }
      } catch (err) {
        if (!(err instanceof WrongExpectedRevisionError)) throw err
        conflicted(err, stream, options.ifMatch, attempt >= attempts)
      }
    }
  })
}

/** A stale If-Match is 412 before anything is decided or written. */
export function checkIfMatch (ifMatch: number | undefined, revision: number): void {
  if (ifMatch !== undefined && ifMatch !== revision) throw new PreconditionFailedError(ifMatch, revision)
}

/** After a revision conflict: 412 under If-Match, 409 once out of attempts, else the caller retries. */
export function conflicted (err: WrongExpectedRevisionError, stream: string, ifMatch: number | undefined, lastAttempt: boolean): void {
  if (ifMatch !== undefined) throw new PreconditionFailedError(ifMatch, typeof err.actual === 'number' ? err.actual : -1)
  if (lastAttempt) throw new ConcurrencyError(stream)
}

/** Stamps decided events and appends them at the loaded revision (WrongExpectedRevisionError on a conflict). */
export async function appendEvents (
  deps: Pick<HandlerDeps, 'store' | 'clock' | 'newId'>,
  stream: string,
  events: readonly DomainEvent[],
  folded: Folded<unknown>,
  ctx: CommandContext,
  idempotency: 'stable' | 'per-revision'
): Promise<{ revision: number, position: number }> {
  const toAppend = stamp(deps, stream, events, ctx, folded.last, idempotency)
  const result = await deps.store.append(stream, toAppend, {
    expectedRevision: folded.revision < 0 ? 'no_stream' : folded.revision
  })
  return { revision: result.nextRevision, position: result.position }
}

/** Adds ids, the audit metadata and the hash chain to decided events. */
export function stamp (
  deps: Pick<HandlerDeps, 'clock' | 'newId'>,
  stream: string,
  events: readonly DomainEvent[],
  ctx: CommandContext,
  previous: RecordedEvent | undefined,
  idempotency: 'stable' | 'per-revision'
): EventToAppend[] {
  const occurredAt = deps.clock().toISOString()
  const firstRevision = previous === undefined ? 0 : previous.revision + 1
  let prevHash = previous === undefined ? GENESIS : String(previous.metadata.hash ?? GENESIS)
  return events.map((event, index) => {
    const data = event.data as JsonObject
    const metadata: JsonObject = {
      schemaVersion: eventVersion(event.type),
      occurredAt,
      actorId: ctx.actor.id,
      actorUsername: ctx.actor.username,
      correlationId: ctx.correlationId,
      causationId: ctx.commandId,
      prevHash
    }
    metadata.hash = chainHash(prevHash, event.type, data, metadata)
    prevHash = metadata.hash as string
    const slot = idempotency === 'stable' ? index : firstRevision + index
    const id = deriveEventId(ctx, stream, event.type, slot) ?? deps.newId()
    return { id, type: event.type, data, metadata }
  })
}

/**
 * When this request (same Idempotency-Key) already created the stream, the position of that first
 * event: a retried creation answers as the first time instead of "already exists".
 */
export async function createdByThisRequest (store: EventStore, stream: string, ctx: CommandContext): Promise<number | null> {
  if (ctx.idempotencyKey === undefined) return null
  const [first] = await store.readStream(stream, { maxCount: 1 })
  return first !== undefined && first.id === deriveEventId(ctx, stream, first.type, 0) ? first.position : null
}

/** The id an event gets under an Idempotency-Key (slot: index in batch, or revision; see HandleOptions). */
export function deriveEventId (ctx: CommandContext, stream: string, type: string, slot: number): string | undefined {
  if (ctx.idempotencyKey === undefined) return undefined
  return uuidv5(`${stream}#${type}#${slot}`, uuidv5(ctx.idempotencyKey, IDEMPOTENCY_NAMESPACE))
}
