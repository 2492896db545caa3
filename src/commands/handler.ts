/**
 * The one generic command handler: read the stream, fold, decide, append with the revision that
 * was read. Reading and folding start from the state cached at the stream's last known revision
 * (fold-cache.ts), so only newer events are read. On a revision conflict it reloads and decides again (bounded), never re-appending
 * stale events; with a client's If-Match it does not retry.
 */
import { v5 as uuidv5 } from 'uuid'
import type { Decider } from '../domain/decider.js'
import { eventVersion, type DomainEvent } from '../domain/events.js'
import { GENESIS, chainHash } from '../eventstore/hash-chain.js'
import { WrongExpectedRevisionError, type EventStore, type EventToAppend, type JsonObject, type RecordedEvent } from '../eventstore/port.js'
import { ConcurrencyError, PreconditionFailedError } from './errors.js'
import { loadFolded, type Folded } from './fold-cache.js'

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

export interface HandlerDeps {
  readonly store: EventStore
  readonly clock: () => Date
  readonly newId: () => string
}

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
const DEFAULT_ATTEMPTS = 5

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
  /**
   * Load only the stream's last event: for streams whose events carry the folded state after
   * them (authentication), so loading does not grow with the stream.
   */
  readonly tail?: boolean
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
  for (let attempt = 1; ; attempt++) {
    const { state: before, revision, last } = await load(deps.store, decider, stream, options.tail === true)
    if (options.ifMatch !== undefined && options.ifMatch !== revision) {
      throw new PreconditionFailedError(options.ifMatch, revision)
    }
    const events = decider.decide(command, before)
    const state = events.reduce(decider.evolve, before)
    if (events.length === 0) return { before, state, events, revision, position: null }

    const toAppend = stamp(deps, stream, events, ctx, last, options.idempotency ?? 'per-revision')
    try {
      const result = await deps.store.append(stream, toAppend, {
        expectedRevision: revision < 0 ? 'no_stream' : revision
      })
      return { before, state, events, revision: result.nextRevision, position: result.position }
    } catch (err) {
      if (!(err instanceof WrongExpectedRevisionError)) throw err
      if (options.ifMatch !== undefined) {
        throw new PreconditionFailedError(options.ifMatch, typeof err.actual === 'number' ? err.actual : -1)
      }
      if (attempt >= attempts) throw new ConcurrencyError(stream)
    }
  }
}

/** The stream's state: from its last event alone (`tail`), or folded through the in-memory cache (fold-cache.ts). */
async function load<C, S, E> (store: EventStore, decider: Decider<C, S, E>, stream: string, tail: boolean): Promise<Folded<S>> {
  if (!tail) return await loadFolded(store, decider, stream)
  const recorded = await store.readStream(stream, { direction: 'backwards', maxCount: 1 })
  const last = recorded.at(-1)
  return { state: foldRecorded(decider, recorded), revision: last?.revision ?? -1, last }
}

export function foldRecorded<C, S, E> (decider: Decider<C, S, E>, recorded: readonly RecordedEvent[]): S {
  let state = decider.initialState()
  for (const r of recorded) state = decider.evolve(state, { type: r.type, data: r.data } as E)
  return state
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
