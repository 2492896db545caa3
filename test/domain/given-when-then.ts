/**
 * given(events).when(command).then(events) for any decider. Every event that goes in (given) or
 * comes out (then) is checked against its TypeBox schema in events.ts, and the emitted events are
 * folded once more so a missing `evolve` case shows up here, not in production.
 */
import type { Test } from 'tap'
import { Format } from 'typebox/format'
import { Value } from 'typebox/value'
import { fold, type Decider } from '../../src/domain/decider.js'
import { DomainError, type DomainErrorCode } from '../../src/domain/errors.js'
import { eventDefinitions, type DomainEvent } from '../../src/domain/events.js'
import type { CatalogSnapshot } from '../../src/domain/user.js'

// TypeBox's Value.Check PASSES any string whose format it does not know, so a missing format
// would silently accept every id. TypeBox 1.x ships 'uuid' and 'date-time': insist on it.
for (const format of ['uuid', 'date-time']) {
  if (!Format.Has(format)) throw new Error(`TypeBox has no '${format}' format: event schema checks would be vacuous`)
}

export const schemaErrors = (event: DomainEvent): string[] => {
  const definition = eventDefinitions.find(d => d.type === event.type)
  if (definition === undefined) return [`unknown event type ${event.type}`]
  return Value.Errors(definition.schema, event.data).map(e => `${e.instancePath || '/'} ${e.message}`)
}

const assertValid = (t: Test, events: readonly DomainEvent[], where: string): void => {
  for (const event of events) {
    const errors = schemaErrors(event)
    if (errors.length > 0) t.fail(`${where}: ${event.type} does not match its schema`, { errors, data: event.data })
  }
}

export interface Then<E, S> {
  /** The command emits exactly these events (in order); returns the state after them. */
  then: (expected: E[]) => S
  /** The command emits nothing. */
  thenNothing: () => void
  /** The command throws a DomainError with this code (and, when given, details matching these). */
  thenThrows: (code: DomainErrorCode, details?: Record<string, unknown>) => void
}

export interface Given<C, S, E> {
  when: (command: C) => Then<E, S>
  /** The state folded from the given events. */
  thenState: (expected: S) => void
}

export const specification = <C, S, E extends DomainEvent>(decider: Decider<C, S, E>) =>
  (t: Test) => ({
    given: (events: E[] = []): Given<C, S, E> => {
      assertValid(t, events, 'given')
      const state = fold(decider, events)
      return {
        thenState: expected => { t.strictSame(state, expected, 'state folded from the given events') },
        when: command => ({
          then: expected => {
            const actual = decider.decide(command, state)
            t.strictSame(actual, expected, 'emitted events')
            assertValid(t, actual, 'then')
            return fold(decider, actual, state)
          },
          thenNothing: () => { t.strictSame(decider.decide(command, state), [], 'no events') },
          thenThrows: (code, details) => {
            try {
              const events = decider.decide(command, state)
              t.fail(`expected ${code}, got events`, { events })
            } catch (error) {
              if (!(error instanceof DomainError)) throw error
              t.equal(error.code, code, 'error code')
              if (details !== undefined) t.match(error.details, details, 'error details')
            }
          }
        })
      }
    }
  })

// ── fixtures shared by the domain tests ──────────────────────────────────────────────────────

export const ALICE = '01920a3b-4c5d-7e6f-8a9b-0c1d2e3f4a5b'
export const BOB = '01920a3b-4c5d-7e6f-8a9b-0c1d2e3f4a6c'
export const CAROL = '01920a3b-4c5d-7e6f-8a9b-0c1d2e3f4a7d'

/** What the use case would have looked up: every kind has an active, an inactive and (by omission) an unknown entry. */
export const catalog: CatalogSnapshot = {
  roles: { 'identity-admin': 'active', dispatcher: 'active', auditor: 'active', retired: 'inactive' },
  companies: { acme: 'active', globex: 'active', defunct: 'inactive' },
  providers: { 'carrier-x': 'active', 'carrier-y': 'active', gone: 'inactive' },
  identificationTypes: { CC: 'active', NIT: 'active', OLD: 'inactive' }
}
