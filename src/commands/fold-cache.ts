/**
 * The one way a command loads a stream: `load(decider, stream)` gives the folded state, its
 * revision and the last event (where the hash chain continues).
 *
 * For a decider whose events carry the whole state after them (`lastEventHoldsState`:
 * authentication, reservations) that is the stream's last event alone. Every other stream is
 * folded through an in-memory cache, so a command reads only the events appended since its stream
 * was last folded instead of the whole stream: a user's stream grows by one event per role
 * change, and reading and folding all of it on every command made each write slower than the one
 * before.
 *
 * The cache holds only what was read from the store (never the events a command is about to
 * append: an idempotent retry may have stored other ones), and every load reads from the cached
 * revision on, so events appended by other processes sharing the store are folded in like any
 * other. Whether a command's decision still holds is decided, as without the cache, by the
 * append's expected revision. Deciders' evolve functions are pure, so a cached state is never
 * changed by the folds that start from it. The cache belongs to the object `createCommands`
 * builds (one per composition root), never to the module.
 */
import type { Decider } from '../domain/decider.js'
import type { EventStore, RecordedEvent } from '../eventstore/port.js'

export interface Folded<S> {
  readonly state: S
  /** The stream's last revision folded in (-1: the stream does not exist). */
  readonly revision: number
  /** The last event folded in (the hash chain continues from it). */
  readonly last: RecordedEvent | undefined
}

export type LoadStream = <C, S, E>(decider: Decider<C, S, E>, stream: string) => Promise<Folded<S>>

/** Streams kept per decider; the least recently used go first. */
const MAX_STREAMS = 10_000

export function foldRecorded<C, S, E> (decider: Decider<C, S, E>, recorded: readonly RecordedEvent[], from: S = decider.initialState()): S {
  let state = from
  for (const r of recorded) state = decider.evolve(state, { type: r.type, data: r.data } as E)
  return state
}

export function createStreamLoader (store: EventStore, maxStreams = MAX_STREAMS): LoadStream {
  const caches = new WeakMap<object, Map<string, Folded<unknown>>>()

  return async function load<C, S, E> (decider: Decider<C, S, E>, stream: string): Promise<Folded<S>> {
    if (decider.lastEventHoldsState === true) {
      const recorded = await store.readStream(stream, { direction: 'backwards', maxCount: 1 })
      const last = recorded.at(-1)
      return { state: foldRecorded(decider, recorded), revision: last?.revision ?? -1, last }
    }
    let cache = caches.get(decider)
    if (cache === undefined) caches.set(decider, cache = new Map())
    const cached = cache.get(stream) as Folded<S> | undefined
    const recorded = await store.readStream(stream, cached === undefined ? {} : { from: cached.revision + 1 })
    let folded = cached
    if (folded === undefined || recorded.length > 0) {
      const last = recorded.at(-1) ?? folded?.last
      folded = { state: foldRecorded(decider, recorded, folded?.state), revision: last?.revision ?? -1, last }
    }
    // Map order is insertion order: re-inserting marks the stream most recently used.
    cache.delete(stream)
    cache.set(stream, folded)
    if (cache.size > maxStreams) cache.delete(cache.keys().next().value as string)
    return folded
  }
}
