/**
 * The OAuth clients, in memory, fed by the clients projection after every batch (like the session
 * index): the token endpoint authenticates clients and the /v1 check refuses a deactivated
 * service account's tokens with a Map lookup.
 */
import { clientChangesAfter, type ClientRecord } from './clients.js'
import type { Db } from './schema.js'

export class ClientDirectory {
  readonly #clients = new Map<string, ClientRecord>()
  #position = 0

  constructor (private readonly db: Db) {
    this.sync()
  }

  sync (): void {
    for (const row of clientChangesAfter(this.db, this.#position)) {
      this.#clients.set(row.clientId, row)
      this.#position = row.position
    }
  }

  get (clientId: string): ClientRecord | undefined { return this.#clients.get(clientId) }

  /** The client when it exists and is active. */
  active (clientId: string): ClientRecord | undefined {
    const client = this.#clients.get(clientId)
    return client?.status === 'active' ? client : undefined
  }
}
