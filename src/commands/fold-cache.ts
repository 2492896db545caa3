/**
 * Folded stream states kept in memory, so a command reads only the events appended since its
 * stream was last folded instead of the whole stream: a user's stream grows by one event per role
 * change, and reading and folding all of it on every command made each write slower than the one
 * before.
 *
 * The cache holds only what was read from the store (never the events a command is about to
 * append: an idempotent retry may have stored other ones), and every load reads from the cached
 * revision on, so events appended by other processes sharing the store are folded in like any
 * other. Whether a command's decision still holds is decided, as without the cache, by the
 * append's expected revision. Deciders' evolve functions are pure, so a cached state is never
 * changed by the folds that start from it.
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

/** Streams kept per store and decider; the least recently used go first. */
const MAX_STREAMS = 10_000

type Cache = Map<string, Folded<unknown>>
const caches = new WeakMap<EventStore, WeakMap<object, Cache>>()

function cacheOf (store: EventStore, decider: object): Cache {
  let perStore = caches.get(store)
  if (perStore === undefined) caches.set(store, perStore = new WeakMap())
  let cache = perStore.get(decider)
  if (cache === undefined) perStore.set(decider, cache = new Map())
  return cache
}

/** The stream's state folded by `decider`, up to the last committed event. */
export async function loadFolded<C, S, E> (store: EventStore, decider: Decider<C, S, E>, stream: string): Promise<Folded<S>> {
  const cache = cacheOf(store, decider)
  const cached = cache.get(stream) as Folded<S> | undefined
  const recorded = await store.readStream(stream, cached === undefined ? {} : { from: cached.revision + 1 })
  let folded = cached
  if (folded === undefined || recorded.length > 0) {
    let state = folded?.state ?? decider.initialState()
    for (const r of recorded) state = decider.evolve(state, { type: r.type, data: r.data } as E)
    const last = recorded.at(-1) ?? folded?.last
    folded = { state, revision: last?.revision ?? -1, last }
  }
  // Map order is insertion order: re-inserting marks the stream most recently used.
  cache.delete(stream)
  cache.set(stream, folded)
  if (cache.size > MAX_STREAMS) cache.delete(cache.keys().next().value as string)
  return folded
}
