/**
 * Opens the event store a configuration names. Each adapter is imported only when chosen, so a
 * command that never touches PostgreSQL or EventStoreDB does not load their clients.
 */
import type { EventStore } from './port.js'

export type EventStoreTarget =
  | { readonly kind: 'sqlite', readonly path: string }
  | { readonly kind: 'esdb', readonly connectionString: string }
  | { readonly kind: 'postgres', readonly connectionString: string }

export interface OpenOptions {
  /** Connection losses a networked store survives (reported, not thrown). */
  readonly onError?: (error: unknown) => void
}

export async function openEventStore (target: EventStoreTarget, options: OpenOptions = {}): Promise<EventStore> {
  const onError = options.onError === undefined ? {} : { onError: options.onError }
  switch (target.kind) {
    case 'sqlite':
      return (await import('./sqlite.js')).openSqliteEventStore({ path: target.path })
    case 'postgres':
      return (await import('./postgres.js')).openPostgresEventStore({ connectionString: target.connectionString, ...onError })
    case 'esdb':
      return (await import('./eventstoredb.js')).openEventStoreDbEventStore({ connectionString: target.connectionString, ...onError })
  }
}
