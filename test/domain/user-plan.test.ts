/**
 * The plan of a user command (src/domain/user-plan.ts), given/when/then: given the user's events,
 * when a command, then the plan's steps in order, and what a failure at each step undoes. The
 * executor's side of the same rules (real store, races) is in test/commands/users.test.ts.
 */
import t, { type Test } from 'tap'
import type { EventOf, UserEvent } from '../../src/domain/events.js'
import { fold } from '../../src/domain/decider.js'
import { compensationOf, planUserCommand, stepsOf, type Step, type Undo } from '../../src/domain/user-plan.js'
import { userDecider, type UserCommand, type UserProfile } from '../../src/domain/user.js'
import { DomainError } from '../../src/domain/errors.js'
import { ALICE, catalog } from './given-when-then.js'

const profile: UserProfile = {
  email: 'Alice@Example.com', firstName: 'Alice', lastName: 'Liddell', identificationType: 'CC', identificationNumber: 'ab123', phone: null
}
const registered = (data: Partial<EventOf<'UserRegistered'>['data']> = {}): UserEvent => ({
  type: 'UserRegistered',
  data: { userId: ALICE, username: 'alice', ...profile, passwordHash: 'scrypt$h', roles: [], companies: [], providers: [], ...data }
})
const register = (data: Partial<Extract<UserCommand, { type: 'RegisterUser' }>['data']> = {}): UserCommand => ({
  type: 'RegisterUser',
  data: { userId: ALICE, username: 'alice', passwordHash: 'scrypt$h', roles: [], companies: [], providers: [], catalog, ...profile, ...data }
})
const asAdmin = registered({ roles: ['identity-admin'] })
const deactivated: UserEvent = { type: 'UserDeactivated', data: { userId: ALICE, reason: null } }
const status = (value: 'active' | 'inactive'): UserCommand => ({ type: 'ChangeStatus', data: { userId: ALICE, status: value, reason: null } })

const USERNAME = { kind: 'username', value: 'alice' } as const
const EMAIL = { kind: 'email', value: 'alice@example.com' } as const
const IDENTIFICATION = { kind: 'identification', value: 'CC:AB123' } as const

/** A step by name, for one-line expectations. */
const named = (step: Step): string => step.type === 'reserve' || step.type === 'release'
  ? `${step.type} ${step.claims.map(c => c.kind).join('+')}`
  : step.type === 'append' ? `append ${step.events.map(e => e.type).join('+')}` : step.type
const undone = (undo: Undo): string => undo.type === 'release' ? `release ${undo.claims.map(c => c.kind).join('+')}` : undo.type

const plan = (t: Test) => ({
  given: (events: UserEvent[]) => ({
    when: (command: UserCommand) => {
      const state = fold(userDecider, events)
      return {
        /** The steps in the order the executor runs them. */
        thenSteps: (expected: string[]) => {
          const steps = stepsOf(planUserCommand(command, state))
          t.strictSame(steps.map(named), expected, 'steps, in order')
          return {
            /** What a failure of the step at `index` undoes, in the order it is undone. */
            whenStepFails: (index: number, undo: string[]) =>
              t.strictSame(compensationOf(steps, index).map(undone), undo, `a failure at "${named(steps[index]!)}" undoes`)
          }
        },
        thenThrows: (code: string) => {
          try {
            planUserCommand(command, state)
            t.fail(`expected ${code}`)
          } catch (error) {
            if (!(error instanceof DomainError)) throw error
            t.equal(error.code, code, 'refused before any step: nothing reserved, nothing written')
          }
        }
      }
    }
  })
})

t.test('a registration reserves its three values before the append; a failed append releases them all', async t => {
  plan(t).given([]).when(register())
    .thenSteps(['reserve username+email+identification', 'append UserRegistered'])
    .whenStepFails(1, ['release username+email+identification'])
  t.strictSame(planUserCommand(register(), fold(userDecider, [])).reserve, [USERNAME, EMAIL, IDENTIFICATION], 'by their comparison keys')
})

t.test('a registration that breaks a rule is refused by the plan: no reservation is ever made', async t => {
  plan(t).given([]).when(register({ roles: ['pilot'] })).thenThrows('ROLE_UNKNOWN')
  plan(t).given([registered()]).when(register()).thenThrows('USER_EXISTS')
})

t.test('a registration as identity-admin claims its seat after the append, never before', async t => {
  plan(t).given([]).when(register({ roles: ['identity-admin'] }))
    .thenSteps(['reserve username+email+identification', 'append UserRegistered', 'claimSeat'])
    .whenStepFails(2, [])
})

t.test('never zero admins: the seat is released before an admin is deactivated, and reclaimed if the append fails', async t => {
  const steps = plan(t).given([asAdmin]).when(status('inactive')).thenSteps(['releaseSeat', 'append UserDeactivated'])
  steps.whenStepFails(0, [])
  steps.whenStepFails(1, ['reclaimSeat'])
})

t.test('never zero admins: revoking identity-admin releases the seat first', async t => {
  plan(t).given([asAdmin]).when({ type: 'RevokeRole', data: { userId: ALICE, roleId: 'identity-admin' } })
    .thenSteps(['releaseSeat', 'append UserRoleRevoked'])
  plan(t).given([registered({ roles: ['identity-admin'] }), deactivated]).when({ type: 'RevokeRole', data: { userId: ALICE, roleId: 'identity-admin' } })
    .thenSteps(['append UserRoleRevoked'])
})

t.test('an admin seat follows reactivation and role assignment, after the append', async t => {
  plan(t).given([asAdmin, deactivated]).when(status('active')).thenSteps(['append UserActivated', 'claimSeat', 'unlock'])
  plan(t).given([registered()]).when({ type: 'AssignRole', data: { userId: ALICE, roleId: 'identity-admin', catalog } })
    .thenSteps(['append UserRoleAssigned', 'claimSeat'])
  plan(t).given([registered(), deactivated]).when({ type: 'AssignRole', data: { userId: ALICE, roleId: 'identity-admin', catalog } })
    .thenSteps(['append UserRoleAssigned'])
})

t.test('activating ends a lockout even when the user is already active; deactivating does not', async t => {
  plan(t).given([registered()]).when(status('active')).thenSteps(['unlock'])
  plan(t).given([registered(), deactivated]).when(status('inactive')).thenSteps([])
})

t.test('a new email is reserved before the append and the old one released after it', async t => {
  const update = (change: Partial<UserProfile>): UserCommand => ({ type: 'UpdateProfile', data: { userId: ALICE, catalog, ...profile, ...change } })
  const steps = plan(t).given([registered()]).when(update({ email: 'alice@wonder.land' }))
    .thenSteps(['reserve email', 'append UserProfileUpdated', 'release email'])
  steps.whenStepFails(1, ['release email'])
  steps.whenStepFails(2, [])
  plan(t).given([registered()]).when(update({ email: 'ALICE@example.com' }))
    .thenSteps(['append UserProfileUpdated'])
  plan(t).given([registered()]).when(update({ identificationNumber: 'AB123' })).thenSteps(['append UserProfileUpdated'])
  plan(t).given([registered()]).when(update({ identificationType: 'NIT' }))
    .thenSteps(['reserve identification', 'append UserProfileUpdated', 'release identification'])
})

t.test('a command that changes nothing has no steps', async t => {
  plan(t).given([registered({ roles: ['dispatcher'] })]).when({ type: 'AssignRole', data: { userId: ALICE, roleId: 'dispatcher', catalog } }).thenSteps([])
  plan(t).given([registered()]).when({ type: 'UnlinkCompany', data: { userId: ALICE, companyId: 'acme' } }).thenSteps([])
})

t.test('a command on a user that does not exist is refused by the plan', async t => {
  plan(t).given([]).when(status('inactive')).thenThrows('USER_NOT_FOUND')
})

t.test('the credential version counts password changes, resets and deactivations', async t => {
  const state = fold(userDecider, ([
    registered(),
    { type: 'UserPasswordChanged', data: { userId: ALICE, passwordHash: 'scrypt$2' } },
    { type: 'UserPasswordRehashed', data: { userId: ALICE, passwordHash: 'scrypt$3' } },
    deactivated,
    { type: 'UserActivated', data: { userId: ALICE, reason: null } },
    { type: 'UserPasswordReset', data: { userId: ALICE, passwordHash: 'scrypt$4' } }
  ] satisfies UserEvent[]))
  t.equal(state.status === 'none' ? -1 : state.credentialVersion, 3, 'a rehash keeps tokens; the other three do not')
})
