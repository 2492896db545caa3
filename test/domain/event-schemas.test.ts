import t from 'tap'
import { schemaErrors, ALICE } from './given-when-then.js'

// The helper's schema checks are only worth something if they can fail.
t.test('a valid event has no schema errors', async t => {
  t.strictSame(schemaErrors({ type: 'AdminSeatClaimed', data: { userId: ALICE } }), [])
})

t.test('a user id that is not a UUID is rejected (the uuid format is enforced)', async t => {
  t.not(schemaErrors({ type: 'AdminSeatClaimed', data: { userId: 'alice' } }).length, 0)
})

t.test('a lockedUntil that is not a date-time is rejected', async t => {
  t.not(schemaErrors({ type: 'UserLockedOut', data: { userId: ALICE, failures: 5, lockouts: 1, lockedUntil: 'soon' } }).length, 0)
})

t.test('an extra property is rejected', async t => {
  const event = { type: 'AdminSeatClaimed', data: { userId: ALICE, extra: 1 } }
  t.not(schemaErrors(event as never).length, 0)
})
