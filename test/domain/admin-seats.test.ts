import t from 'tap'
import { adminSeatsDecider } from '../../src/domain/admin-seats.js'
import { userDecider, isActiveAdmin, ADMIN_ROLE } from '../../src/domain/user.js'
import { fold } from '../../src/domain/decider.js'
import type { AdminSeatEvent, UserEvent } from '../../src/domain/events.js'
import { specification, ALICE, BOB, CAROL } from './given-when-then.js'

const seats = specification(adminSeatsDecider)

const claimed = (userId: string): AdminSeatEvent => ({ type: 'AdminSeatClaimed', data: { userId } })
const released = (userId: string): AdminSeatEvent => ({ type: 'AdminSeatReleased', data: { userId } })

t.test('the first admin claims a seat', async t => {
  seats(t).given([]).when({ type: 'ClaimSeat', data: { userId: ALICE } }).then([claimed(ALICE)])
})

t.test('claiming a seat already held emits nothing', async t => {
  seats(t).given([claimed(ALICE)]).when({ type: 'ClaimSeat', data: { userId: ALICE } }).thenNothing()
})

t.test('seats are kept sorted', async t => {
  seats(t).given([claimed(CAROL), claimed(ALICE), claimed(BOB)]).thenState({ seats: [ALICE, BOB, CAROL] })
})

t.test('a seat is released while another admin remains', async t => {
  const state = seats(t).given([claimed(ALICE), claimed(BOB)]).when({ type: 'ReleaseSeat', data: { userId: ALICE } }).then([released(ALICE)])
  t.strictSame(state, { seats: [BOB] })
})

t.test('the last seat cannot be released: LAST_ADMIN', async t => {
  seats(t).given([claimed(ALICE), claimed(BOB), released(BOB)]).when({ type: 'ReleaseSeat', data: { userId: ALICE } })
    .thenThrows('LAST_ADMIN', { userId: ALICE })
})

t.test('releasing a seat not held emits nothing', async t => {
  seats(t).given([claimed(ALICE)]).when({ type: 'ReleaseSeat', data: { userId: BOB } }).thenNothing()
  seats(t).given([]).when({ type: 'ReleaseSeat', data: { userId: BOB } }).thenNothing()
})

t.test('release before, claim after: the seats stay a subset of the active admins', async t => {
  const registered = (userId: string, username: string): UserEvent => ({
    type: 'UserRegistered',
    data: {
      userId, username, email: `${username}@example.com`, firstName: username, lastName: 'Admin', identificationType: 'CC',
      identificationNumber: username, phone: null, passwordHash: 'h', roles: [ADMIN_ROLE], companies: [], providers: []
    }
  })
  let seatState = fold(adminSeatsDecider, [claimed(ALICE), claimed(BOB)])
  const alice = fold(userDecider, [registered(ALICE, 'alice')])
  const bob = fold(userDecider, [registered(BOB, 'bob')])
  t.ok(isActiveAdmin(alice) && isActiveAdmin(bob), 'two active admins, two seats')

  // Deactivating Alice: the seat goes first, then the user changes.
  seatState = fold(adminSeatsDecider, adminSeatsDecider.decide({ type: 'ReleaseSeat', data: { userId: ALICE } }, seatState), seatState)
  const aliceAfter = fold(userDecider, userDecider.decide({ type: 'ChangeStatus', data: { userId: ALICE, status: 'inactive', reason: null } }, alice), alice)
  t.notOk(isActiveAdmin(aliceAfter), 'Alice is no longer an active admin')
  t.strictSame(seatState.seats, [BOB], 'only Bob holds a seat')

  // Deactivating Bob too is refused before his user stream is touched.
  t.throws(() => adminSeatsDecider.decide({ type: 'ReleaseSeat', data: { userId: BOB } }, seatState), { code: 'LAST_ADMIN' })
})
