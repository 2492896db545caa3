import t from 'tap'
import { reservationDecider } from '../../src/domain/reservation.js'
import type { ReservationEvent } from '../../src/domain/events.js'
import { specification, ALICE, BOB } from './given-when-then.js'

const reservation = specification(reservationDecider)

const reserved = (userId: string): ReservationEvent => ({ type: 'ValueReserved', data: { kind: 'username', value: 'alice', userId } })
const released = (userId: string): ReservationEvent => ({ type: 'ValueReleased', data: { kind: 'username', value: 'alice', userId } })

t.test('a free value is reserved', async t => {
  const state = reservation(t).given([]).when({ type: 'Reserve', data: { kind: 'username', value: 'alice', userId: ALICE } }).then([reserved(ALICE)])
  t.strictSame(state, { holder: ALICE })
})

t.test('reserving a value one already holds emits nothing', async t => {
  reservation(t).given([reserved(ALICE)]).when({ type: 'Reserve', data: { kind: 'username', value: 'alice', userId: ALICE } }).thenNothing()
})

t.test('a value held by another user is VALUE_TAKEN, naming the kind', async t => {
  reservation(t).given([reserved(ALICE)]).when({ type: 'Reserve', data: { kind: 'username', value: 'alice', userId: BOB } })
    .thenThrows('VALUE_TAKEN', { kind: 'username' })
})

t.test('the holder releases its value', async t => {
  const state = reservation(t).given([reserved(ALICE)]).when({ type: 'Release', data: { kind: 'username', value: 'alice', userId: ALICE } }).then([released(ALICE)])
  t.strictSame(state, { holder: null })
})

t.test('another user cannot release it: nothing happens', async t => {
  reservation(t).given([reserved(ALICE)]).when({ type: 'Release', data: { kind: 'username', value: 'alice', userId: BOB } }).thenNothing()
})

t.test('releasing a free value emits nothing', async t => {
  reservation(t).given([]).when({ type: 'Release', data: { kind: 'username', value: 'alice', userId: ALICE } }).thenNothing()
})

t.test('a released value can be reserved by someone else', async t => {
  reservation(t).given([reserved(ALICE), released(ALICE)]).when({ type: 'Reserve', data: { kind: 'username', value: 'alice', userId: BOB } })
    .then([reserved(BOB)])
})

t.test('email and identification reservations work the same way', async t => {
  reservation(t).given([{ type: 'ValueReserved', data: { kind: 'email', value: 'alice@example.com', userId: ALICE } }])
    .when({ type: 'Reserve', data: { kind: 'email', value: 'alice@example.com', userId: BOB } }).thenThrows('VALUE_TAKEN', { kind: 'email' })
  reservation(t).given([]).when({ type: 'Reserve', data: { kind: 'identification', value: 'CC:1020304050', userId: BOB } })
    .then([{ type: 'ValueReserved', data: { kind: 'identification', value: 'CC:1020304050', userId: BOB } }])
})
