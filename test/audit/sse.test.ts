/**
 * GET /v1/events/stream over a real socket with the `eventsource` client package: live delivery,
 * resuming with Last-Event-ID after a disconnect (exactly the missed events, then live ones), the
 * client's own reconnect after the connection drops, heartbeat comments, and a server close that
 * ends every stream instead of waiting for subscribers.
 */
import { request as httpRequest, type IncomingMessage } from 'node:http'
import type { Socket } from 'node:net'
import { EventSource } from 'eventsource'
import t, { type Test } from 'tap'
import { eventTypes } from '../../src/audit/cloudevents.js'
import { PASSWORD, openAuditService, type AuditService } from './helpers.js'

interface Received { id: string, type: string, event: any }

/** An EventSource with the bearer header (and optionally Last-Event-ID) that records every event. */
function subscribe (url: string, token: string, headers: Record<string, string> = {}) {
  const received: Received[] = []
  const errors: string[] = []
  const waiters = new Set<() => void>()
  const es = new EventSource(url, {
    fetch: async (input, init) => await fetch(input, { ...init, headers: { ...init.headers, authorization: `Bearer ${token}`, ...headers } })
  })
  for (const { cloudEventType, published } of eventTypes) {
    if (!published) continue
    es.addEventListener(cloudEventType, (message) => {
      received.push({ id: message.lastEventId, type: message.type, event: JSON.parse(message.data) })
      for (const waiter of waiters) waiter()
    })
  }
  es.addEventListener('error', (e) => { errors.push(String((e as { message?: string }).message)); for (const waiter of waiters) waiter() })
  const opened = new Promise<void>((resolve, reject) => {
    es.addEventListener('open', () => resolve(), { once: true })
    setTimeout(() => reject(new Error('no open')), 10_000).unref()
  })
  const until = async (check: () => boolean, what: string, timeoutMs = 10_000): Promise<void> => await new Promise((resolve, reject) => {
    const timer = setTimeout(() => { waiters.delete(tryIt); reject(new Error(`timed out waiting for ${what}; got ${received.length} events, errors ${errors.join('; ')}`)) }, timeoutMs)
    const tryIt = (): void => { if (check()) { clearTimeout(timer); waiters.delete(tryIt); resolve() } }
    waiters.add(tryIt)
    tryIt()
  })
  return { es, received, errors, opened, until }
}

async function listen (t: Test, svc: AuditService): Promise<{ base: string, sockets: Set<Socket> }> {
  const sockets = new Set<Socket>()
  svc.app.server.on('connection', (socket: Socket) => {
    sockets.add(socket)
    socket.on('close', () => sockets.delete(socket))
  })
  const address = await svc.app.listen({ host: '127.0.0.1', port: 0 })
  t.comment(`listening on ${address}`)
  return { base: address, sockets }
}

/**
 * Node's fetch leaves connections in its pool that never carried a request; the server cannot
 * tell them from slow clients and would wait for fetch's 4 s keep-alive to close them.
 */
function dropIdle (sockets: Set<Socket>): void {
  for (const socket of sockets) if ((socket as { _httpMessage?: unknown })._httpMessage == null) socket.destroy()
}

/** The published events after `after`, as the feed pages them. */
async function feedAfter (svc: AuditService, after: number): Promise<any[]> {
  const page = await svc.ok('GET', `/v1/events?limit=200&after=${after}`, { token: svc.admin })
  return page.items
}

t.test('live events, a disconnect, and a resume with Last-Event-ID: no gap, no duplicate', async t => {
  const svc = await openAuditService(t)
  const { base, sockets } = await listen(t, svc)
  const token = await svc.caller(['identity-subscriber'])
  const url = `${base}/v1/events/stream`

  const first = subscribe(url, token)
  await first.opened
  const alice = await svc.createUser()
  await first.until(() => first.received.some(r => r.event.subject === `users/${alice.id}`), 'alice')
  t.same(first.received.map(r => r.event.type), ['dev.identity-manager.user.registered.v1'], 'new events only: nothing from before the connection')
  const delivered = first.received[0]!
  t.equal(delivered.id, String(delivered.event.position), 'id: is the position')
  t.equal(delivered.type, delivered.event.type, 'event: is the CloudEvents type')
  t.match(delivered.event, { specversion: '1.0', subject: `users/${alice.id}`, data: { passwordHash: '[redacted]' } })

  first.es.close()
  const lastSeen = Number(delivered.id)
  // While nobody listens: more users, a role, a catalog entry.
  const bob = await svc.createUser()
  await svc.ok('POST', `/v1/users/${bob.id}/roles`, { token: svc.admin, body: { roleId: 'identity-auditor' } })
  await svc.ok('POST', '/v1/companies', { token: svc.admin, body: { id: 'acme', name: 'ACME' } })
  const missed = await feedAfter(svc, lastSeen)
  t.equal(missed.length, 3)

  // Last-Event-ID wins over ?after= (an EventSource keeps its URL across reconnects).
  const second = subscribe(`${url}?after=1`, token, { 'last-event-id': String(lastSeen) })
  await second.until(() => second.received.length >= missed.length, 'the missed events')
  t.same(second.received.map(r => r.event), missed, 'exactly the missed events, in order')
  const carol = await svc.createUser()
  await second.until(() => second.received.some(r => r.event.subject === `users/${carol.id}`), 'carol, live')
  const all = [...first.received, ...second.received].map(r => r.event.position)
  t.same(all, [...new Set(all)].sort((a, b) => a - b), 'strictly increasing across the reconnect')
  t.same([...first.received, ...second.received].map(r => r.event), await feedAfter(svc, lastSeen - 1), 'the same as the feed')
  second.es.close()

  // ?after= works as a starting point too; Last-Event-ID wins when both are sent.
  const third = subscribe(`${url}?after=${lastSeen}&type=UserRegistered`, token)
  await third.until(() => third.received.length >= 2, 'registrations after alice')
  t.same(third.received.map(r => r.event.subject), [`users/${bob.id}`, `users/${carol.id}`], 'filtered by type')
  third.es.close()
  dropIdle(sockets)
})

t.test('the client reconnects by itself after the connection drops and misses nothing', async t => {
  const svc = await openAuditService(t)
  const { base, sockets } = await listen(t, svc)
  const token = await svc.caller(['identity-subscriber'])
  const sub = subscribe(`${base}/v1/events/stream`, token)
  await sub.opened
  const before = await svc.createUser()
  await sub.until(() => sub.received.some(r => r.event.subject === `users/${before.id}`), 'first user')

  for (const socket of sockets) socket.destroy()
  await sub.until(() => sub.errors.length > 0, 'the client to notice')
  const during = await svc.createUser()
  await svc.ok('PUT', `/v1/users/${during.id}/status`, { token: svc.admin, body: { status: 'inactive' } })
  // eventsource waits 3 s (its default retry) and reconnects with Last-Event-ID.
  await sub.until(() => sub.received.some(r => r.event.type === 'dev.identity-manager.user.deactivated.v1'), 'the events appended while disconnected')
  const after = await svc.createUser()
  await sub.until(() => sub.received.some(r => r.event.subject === `users/${after.id}`), 'a live event after the reconnect')
  const start = sub.received[0]!.event.position
  t.same(sub.received.map(r => r.event), await feedAfter(svc, start - 1), 'every event once, in order')
  sub.es.close()
  dropIdle(sockets)
})

/** A raw GET of the stream: status, headers, the text so far, and its end. */
async function rawStream (base: string, token: string) {
  const response = await new Promise<IncomingMessage>((resolve, reject) => {
    const req = httpRequest(`${base}/v1/events/stream`, { headers: { authorization: `Bearer ${token}`, accept: 'text/event-stream' } }, resolve)
    req.on('error', reject)
    req.end()
  })
  const state = { text: '' }
  const watchers = new Set<() => void>()
  response.setEncoding('utf8').on('data', (chunk: string) => { state.text += chunk; for (const w of watchers) w() })
  const ended = new Promise<void>(resolve => response.on('end', resolve).on('close', resolve))
  const heartbeats = async (count: number): Promise<void> => await new Promise((resolve) => {
    const check = (): void => { if ((state.text.match(/: heartbeat\n\n/g) ?? []).length >= count) { watchers.delete(check); resolve() } }
    watchers.add(check)
    check()
  })
  return { response, state, ended, heartbeats }
}

t.test('heartbeat comments; a revoked subscriber loses its stream; a server close ends open streams', async t => {
  const svc = await openAuditService(t, {}, { sseHeartbeatMs: 100 })
  const { base } = await listen(t, svc)
  const revoked = await svc.createUser({ roles: ['identity-subscriber'] })
  const revokedToken = await svc.token(revoked.username, PASSWORD)
  const token = await svc.caller(['identity-subscriber'])

  const first = await rawStream(base, revokedToken)
  t.equal(first.response.statusCode, 200)
  t.match(first.response.headers['content-type'], /^text\/event-stream/)
  t.equal(first.response.headers['cache-control'], 'no-cache, no-transform')
  t.ok(first.response.headers['x-request-id'], 'the usual response headers')
  await first.heartbeats(2)
  t.pass('heartbeat comments every interval')
  await svc.ok('PUT', `/v1/users/${revoked.id}/status`, { token: svc.admin, body: { status: 'inactive' } })
  const started = Date.now()
  await first.ended
  t.ok(Date.now() - started < 2000, 'the deactivated subscriber\'s stream ended at the next check')

  const second = await rawStream(base, token)
  const es = subscribe(`${base}/v1/events/stream`, token)
  await es.opened
  await second.heartbeats(1)
  const closing = Date.now()
  await svc.app.close()
  t.ok(Date.now() - closing < 5000, `app.close() returned in ${Date.now() - closing} ms with two open streams`)
  await second.ended
  t.pass('the raw stream ended')
  await es.until(() => es.errors.length > 0, 'the EventSource to see the end')
  es.es.close()
})
