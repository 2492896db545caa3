/** The pure core of every aggregate: no I/O, no clock, no id generation. */
export interface Decider<Command, State, Event> {
  readonly initialState: () => State
  readonly evolve: (state: State, event: Event) => State
  /** The events the command produces (possibly none), or throws a DomainError. */
  readonly decide: (command: Command, state: State) => Event[]
  /**
   * Every event carries the whole state after it (authentication, reservations): the state is the
   * stream's last event alone, so loading it reads one event however long the stream grows.
   */
  readonly lastEventHoldsState?: boolean
}

export const fold = <C, S, E>(decider: Decider<C, S, E>, events: readonly E[], from: S = decider.initialState()): S =>
  events.reduce(decider.evolve, from)
