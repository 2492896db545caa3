/**
 * Commands on one stream queue instead of racing (src/commands/executor.ts): 100 concurrent
 * mixed commands on one user, through one node's real HTTP app, all succeed unless a rule refuses
 * them. The only refusals here are genuine (an email another user holds: 409); none is a lost
 * race. And the user's stream is exactly the serial application of the acknowledged commands in
 * some order: replayed through the pure plan (src/domain/user-plan.ts) in the order their events
 * appear, each one emits exactly the events stored under its request id, and each acknowledged
 * command that stored nothing is a no-op at some point of that sequence.
 */
import t from 'tap'
import { streams } from '../../src/domain/events.js'
import { planUserCommand } from '../../src/domain/user-plan.js'
import { userDecider, type UserCommand, type UserProfile, type UserState } from '../../src/domain/user.js'
import type { RecordedEvent } from '../../src/eventstore/port.js'
import { openApiService, profileOf } from '../helpers/api.js'

t.test('100 concurrent mixed commands on one user: no lost race, and the stream is a serial order of them', async t => {
  const svc = await openApiService(t)
  const admin = svc.admin
  const roles = Array.from({ length: 30 }, (_, i) => `queue-role-${i}`)
  const companies = Array.from({ length: 5 }, (_, i) => `queue-co-${i}`)
  for (const id of roles) t.equal((await svc.call('POST', '/v1/roles', { token: admin, body: { id, name: id } })).statusCode, 201)
  for (const id of companies) t.equal((await svc.call('POST', '/v1/companies', { token: admin, body: { id, name: id } })).statusCode, 201)
  const user = await svc.createUser({ roles: roles.slice(20) })
  const other = await svc.createUser()
  const profile = profileOf(user)

  interface Sent { id: string, kind: string, command: UserCommand | null, send: (id: string) => ReturnType<typeof svc.call> }
  const sent: Sent[] = []
  const add = (kind: string, command: UserCommand | null, send: Sent['send']): void => {
    sent.push({ id: `queue-${sent.length}-${kind}`, kind, command, send })
  }
  const headers = (id: string) => ({ 'x-request-id': id })
  const userId = user.id
  for (const roleId of roles.slice(0, 20)) {
    add('assign', { type: 'AssignRole', data: { userId, roleId, catalog: { roles: { [roleId]: 'active' } } } },
      id => svc.call('POST', `/v1/users/${userId}/roles`, { token: admin, headers: headers(id), body: { roleId } }))
  }
  for (const roleId of roles.slice(20)) {
    add('revoke', { type: 'RevokeRole', data: { userId, roleId } },
      id => svc.call('DELETE', `/v1/users/${userId}/roles/${roleId}`, { token: admin, headers: headers(id) }))
  }
  for (let i = 0; i < 30; i++) {
    const status = i % 2 === 0 ? 'inactive' : 'active'
    add('status', { type: 'ChangeStatus', data: { userId, status, reason: null } },
      id => svc.call('PUT', `/v1/users/${userId}/status`, { token: admin, headers: headers(id), body: { status } }))
  }
  for (let i = 0; i < 25; i++) {
    const body = { ...profile, firstName: `Queued${i}` }
    add('profile', { type: 'UpdateProfile', data: { userId, ...(body as unknown as UserProfile), catalog: { identificationTypes: { CC: 'active' } } } },
      id => svc.call('PUT', `/v1/users/${userId}`, { token: admin, headers: headers(id), body }))
  }
  for (const [i, companyId] of companies.entries()) {
    add('link', { type: 'LinkCompany', data: { userId, companyId, catalog: { companies: { [companyId]: 'active' } } } },
      id => svc.call('POST', `/v1/users/${userId}/companies`, { token: admin, headers: headers(id), body: { companyId } }))
    add('unlink', { type: 'UnlinkCompany', data: { userId, companyId: companies[(i + 1) % companies.length]! } },
      id => svc.call('DELETE', `/v1/users/${userId}/companies/${companies[(i + 1) % companies.length]!}`, { token: admin, headers: headers(id) }))
  }
  for (let i = 0; i < 5; i++) {
    // Genuine conflicts: the other user holds this email.
    add('taken-email', null, id => svc.call('PUT', `/v1/users/${userId}`, { token: admin, headers: headers(id), body: { ...profile, email: other.email, firstName: `Taken${i}` } }))
  }
  t.equal(sent.length, 100)
  sent.sort(() => Math.random() - 0.5)
  const answers = await Promise.all(sent.map(async s => ({ sent: s, res: await s.send(s.id) })))

  const statuses: Record<string, number> = {}
  for (const { sent: s, res } of answers) {
    const key = `${s.kind} ${res.statusCode}`
    statuses[key] = (statuses[key] ?? 0) + 1
  }
  t.comment(`answers: ${JSON.stringify(statuses)}`)
  const wrong = answers.filter(({ sent: s, res }) => s.kind === 'taken-email'
    ? !(res.statusCode === 409 && (res.json() as { code?: string }).code === 'VALUE_TAKEN')
    : !(res.statusCode >= 200 && res.statusCode < 300))
  t.strictSame(wrong.map(({ sent: s, res }) => `${s.id}: ${res.statusCode} ${res.body.slice(0, 160)}`), [],
    'every command succeeded but the five that name a taken email, which are 409 VALUE_TAKEN')

  // The stream as a serial order of the commands: group by request id in order of appearance.
  const stream = await svc.store.readStream(streams.user(userId))
  const registered = stream.filter(e => e.revision === 0)
  const byRequest = new Map<string, RecordedEvent[]>()
  for (const e of stream.slice(1)) {
    const id = String(e.metadata.correlationId)
    byRequest.set(id, [...(byRequest.get(id) ?? []), e])
  }
  const fold = (state: UserState, events: readonly RecordedEvent[]): UserState =>
    events.reduce<UserState>((s, e) => userDecider.evolve(s, { type: e.type, data: e.data } as never), state)
  let state = fold(userDecider.initialState(), registered)
  const states: UserState[] = [state]
  const bad: string[] = []
  const known = new Map(sent.map(s => [s.id, s]))
  let expectedRevision = 1
  for (const [id, events] of byRequest) {
    const s = known.get(id)
    if (s === undefined || s.command === null) { bad.push(`${id}: events from a request that should have stored none`); continue }
    if (events[0]!.revision !== expectedRevision || events.some((e, i) => e.revision !== expectedRevision + i)) bad.push(`${id}: its events are not contiguous`)
    expectedRevision += events.length
    const planned = planUserCommand(s.command, state).events
    const stored = events.map(e => ({ type: e.type, data: e.data }))
    if (JSON.stringify(planned) !== JSON.stringify(stored)) bad.push(`${id}: applied at its place it emits ${JSON.stringify(planned)}, the stream holds ${JSON.stringify(stored)}`)
    state = fold(state, events)
    states.push(state)
  }
  for (const { sent: s } of answers) {
    if (s.command === null || byRequest.has(s.id)) continue
    if (!states.some(at => planUserCommand(s.command!, at).events.length === 0)) bad.push(`${s.id}: acknowledged without events, but it is a no-op nowhere in the sequence`)
  }
  t.strictSame(bad, [], 'replayed serially in stream order, every command emits exactly its stored events')
  t.ok(byRequest.size >= 45, `most commands changed something (${byRequest.size})`)

  const shown = (await svc.call('GET', `/v1/users/${userId}`, { token: admin })).json() as Record<string, unknown>
  if (state.status === 'none') throw new Error('the user vanished')
  t.strictSame({ roles: [...(shown.roles as string[])].sort(), companies: [...(shown.companies as string[])].sort(), firstName: shown.firstName, version: shown.version },
    { roles: [...state.roles].sort(), companies: [...state.companies].sort(), firstName: state.firstName, version: stream.at(-1)!.revision },
    'the API shows the end of that sequence')
})
