/**
 * The shared live feed (src/audit/live-feed.ts) on a real SQLite event store: several sinks on
 * one store subscription, each with its own starting position and type filter, each receiving
 * exactly the frames the feed pages would give it; a sink that never reads is ended as `slow`
 * without holding the others back; an unauthorised sink is ended; the subscription stops when
 * the last sink leaves. Then several subscribers over a real socket on the real service.
 */
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { PassThrough } from 'node:stream'
import { randomUUID } from 'node:crypto'
import t, { type Test } from 'tap'
import { resolveTypeFilter, type TypeFilter } from '../../src/audit/cloudevents.js'
import { readFeed } from '../../src/audit/feed.js'
import { createLiveFeed, sseFrame, type EndReason } from '../../src/audit/live-feed.js'
import { openSqliteEventStore, type SqliteEventStore } from '../../src/eventstore/sqlite.js'
import { openAuditService } from './helpers.js'

const SOURCE = '/identity-manager'

function openStore (t: Test): SqliteEventStore {
  const dir = mkdtempSync(join(tmpdir(), 'idm-live-feed-'))
  const store = openSqliteEventStore({ path: join(dir, 'events.db') })
  t.teardown(async () => {
    await store.close()
    rmSync(dir, { recursive: true, force: true })
  })
  return store
}

/** Appends `count` events alternating a published company event, an internal reservation, and a user event. */
async function appendMixed (store: SqliteEventStore, count: number, padding = ''): Promise<void> {
  for (let i = 0; i < count; i++) {
    const kind = i % 3
    const stream = kind === 0 ? 'company-acme' : kind === 1 ? `reservation-username-u${i}` : 'user-0190a6d2-7c1e-7b3a-9f00-1234567890ab'
    const type = kind === 0 ? 'CompanyUpdated' : kind === 1 ? 'ValueReserved' : 'UserRoleAssigned'
    await store.append(stream, [{ id: randomUUID(), type, data: { n: i, padding }, metadata: { occurredAt: '2031-01-01T00:00:00.000Z', schemaVersion: 1 } }], { expectedRevision: 'any' })
  }
}

/** A sink that reads everything written to it (or nothing, when `reading` is false). */
function sink (after: number, filter: TypeFilter, options: { reading?: boolean, authorised?: () => boolean } = {}) {
  const out = new PassThrough()
  const state = { text: '', ended: null as EndReason | null, error: undefined as unknown }
  if (options.reading !== false) out.setEncoding('utf8').on('data', (chunk: string) => { state.text += chunk })
  return {
    state,
    out,
    spec: {
      after,
      filter,
      out,
      authorised: options.authorised ?? (() => true),
      end: (reason: EndReason, error?: unknown) => { state.ended = reason; state.error = error; out.end() }
    }
  }
}

/** What the feed pages give for (after, filter), as SSE frames. */
async function expectedFrames (store: SqliteEventStore, after: number, filter: TypeFilter): Promise<string> {
  const page = await readFeed(store, { after, limit: 100_000, filter, source: SOURCE, scanLimit: 1_000_000 })
  return page.items.map(sseFrame).join('')
}

async function until (check: () => boolean, what: string, timeoutMs = 10_000): Promise<void> {
  const started = Date.now()
  while (!check()) {
    if (Date.now() - started > timeoutMs) throw new Error(`timed out waiting for ${what}`)
    await new Promise(resolve => setTimeout(resolve, 5))
  }
}

const filterOf = (types: string[]): TypeFilter => {
  const resolved = resolveTypeFilter(types)
  if (!resolved.ok) throw new Error(`unknown ${resolved.unknown.join()}`)
  return resolved.filter
}

t.test('several sinks on one subscription: each gets exactly its frames, in order, once', async t => {
  const store = openStore(t)
  await appendMixed(store, 30)
  const live = createLiveFeed(store, { source: SOURCE })
  const everything = sink(0, null)
  const fromHead = sink(await store.headPosition(), null)
  const roles = sink(0, filterOf(['UserRoleAssigned']))
  const midway = sink(10, filterOf(['dev.identity-manager.company.updated.v1']))
  const sinks = [everything, fromHead, roles, midway]
  const detachers = sinks.map(s => live.attach(s.spec))
  // While the sinks catch up and join, more commits arrive, some in one group commit.
  const appending = appendMixed(store, 60)
  await Promise.all([appendMixed(store, 3), appending])
  await appendMixed(store, 30)
  const head = await store.headPosition()
  const lastId = (text: string): number => Number([...text.matchAll(/^id: (\d+)$/gm)].at(-1)?.[1] ?? 0)
  await until(() => lastId(everything.state.text) >= head - 1, 'the last event')
  for (const [name, s] of [['everything', everything], ['from the head', fromHead], ['roles only', roles], ['companies after 10', midway]] as const) {
    const expected = await expectedFrames(store, s.spec.after, s.spec.filter)
    await until(() => s.state.text.length >= expected.length, `${name}'s frames`)
    t.equal(s.state.text, expected, `${name}: the same frames as the feed pages`)
  }
  t.ok(fromHead.state.text.length > 0 && fromHead.state.text.length < everything.state.text.length, 'the sink from the head got new events only')
  t.same(live.stats(), { sinks: 4, catchingUp: 0, subscribed: true }, 'four sinks, one store subscription')
  for (const detach of detachers) detach()
  t.same(live.stats(), { sinks: 0, catchingUp: 0, subscribed: false }, 'the subscription stops with the last sink')

  // A later sink starts a new subscription and still sees only what follows its position.
  const later = sink(head, null)
  live.attach(later.spec)
  await appendMixed(store, 3)
  const expected = await expectedFrames(store, head, null)
  await until(() => later.state.text.length >= expected.length, 'the later sink')
  t.equal(later.state.text, expected)
  await live.close()
  t.equal(later.state.ended, 'closed', 'close ends the open sinks')
  t.same(live.stats(), { sinks: 0, catchingUp: 0, subscribed: false })
})

t.test('a sink that never reads is ended as slow; the others keep receiving', async t => {
  const store = openStore(t)
  const live = createLiveFeed(store, { source: SOURCE, maxBufferedBytes: 64 * 1024 })
  const head = await store.headPosition()
  const stuck = sink(head, null, { reading: false })
  const fine = sink(head, null)
  live.attach(stuck.spec)
  live.attach(fine.spec)
  await until(() => live.stats().sinks === 2, 'both sinks to join')
  await appendMixed(store, 90, 'x'.repeat(4096))
  await until(() => stuck.state.ended !== null, 'the stuck sink to be ended')
  t.equal(stuck.state.ended, 'slow')
  t.ok(stuck.out.writableLength <= 64 * 1024 + 16 * 4096, `its buffer stayed bounded (${stuck.out.writableLength} bytes)`)
  const expected = await expectedFrames(store, head, null)
  await until(() => fine.state.text.length >= expected.length, 'the reading sink')
  t.equal(fine.state.text, expected, 'the reading sink got everything')
  t.equal(fine.state.ended, null, 'and is still open')
  t.equal(live.stats().sinks, 1)
  await live.close()
})

t.test('a sink whose authorisation lapses is ended before its next frame', async t => {
  const store = openStore(t)
  const live = createLiveFeed(store, { source: SOURCE })
  let allowed = true
  const s = sink(await store.headPosition(), null, { authorised: () => allowed })
  live.attach(s.spec)
  await until(() => live.stats().sinks === 1, 'the sink to join')
  await appendMixed(store, 1)
  await until(() => s.state.text.length > 0, 'the first frame')
  const before = s.state.text
  allowed = false
  await appendMixed(store, 3)
  await until(() => s.state.ended !== null, 'the end')
  t.equal(s.state.ended, 'unauthorised')
  t.equal(s.state.text, before, 'nothing written after the authorisation lapsed')
  t.same(live.stats(), { sinks: 0, catchingUp: 0, subscribed: false })
  await live.close()
})

t.test('ten subscribers over a socket on the real service receive the same events', async t => {
  const svc = await openAuditService(t)
  const token = await svc.caller(['identity-subscriber'])
  const base = await svc.app.listen({ host: '127.0.0.1', port: 0 })
  const controller = new AbortController()
  t.teardown(() => controller.abort())
  const texts = Array.from({ length: 10 }, () => '')
  const opened = await Promise.all(texts.map(async (_, i) => {
    const res = await fetch(`${base}/v1/events/stream${i % 2 === 0 ? '' : '?type=UserRoleAssigned'}`, {
      headers: { authorization: `Bearer ${token}`, accept: 'text/event-stream' }, signal: controller.signal
    })
    t.equal(res.status, 200)
    void (async () => {
      const decoder = new TextDecoder()
      try { for await (const chunk of res.body as unknown as AsyncIterable<Uint8Array>) texts[i] += decoder.decode(chunk, { stream: true }) } catch {}
    })()
    return res
  }))
  await until(() => texts.every(text => text.startsWith(': stream open')), 'every stream to open')
  const head = await svc.store.headPosition()
  const users = [await svc.createUser(), await svc.createUser()]
  for (const user of users) await svc.ok('POST', `/v1/users/${user.id}/roles`, { token: svc.admin, body: { roleId: 'identity-auditor' } })
  const frames = (text: string): string => text.split('\n\n').filter(f => f.startsWith('id: ')).map(f => `${f}\n\n`).join('')
  const all = await expectedFrames(svc.store as SqliteEventStore, head, null)
  const roles = await expectedFrames(svc.store as SqliteEventStore, head, filterOf(['UserRoleAssigned']))
  t.equal((roles.match(/^id: /gm) ?? []).length, 2, 'two role assignments')
  await until(() => texts.every((text, i) => frames(text).length >= (i % 2 === 0 ? all : roles).length), 'every subscriber to receive its events')
  texts.forEach((text, i) => t.equal(frames(text), i % 2 === 0 ? all : roles, `subscriber ${i}`))
  controller.abort()
  t.equal(opened.length, 10)
})
