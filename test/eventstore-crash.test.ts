/**
 * Kill -9 a process in the middle of appending, then check the file: every acknowledged event is
 * there at the revision it was acknowledged with, streams and positions have no gaps, and no
 * batch is torn. The child is TypeScript, run with the loader tap itself uses (see
 * test/fixtures/eventstore-spawn.ts). Each cycle's writer opens the file its killed predecessor
 * left behind (hot WAL included), so recovery is exercised too.
 */
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { setTimeout as sleep } from 'node:timers/promises'
import t, { type Test } from 'tap'
import type { RecordedEvent } from '../src/eventstore/port.js'
import { openSqliteEventStore } from '../src/eventstore/sqlite.js'
import { spawnAppender, type Ack } from './fixtures/eventstore-spawn.js'

const CYCLES = 3
const WRITERS = 4

interface BatchData {
  readonly batch: string
  readonly size: number
  readonly index: number
}

async function readEverything (path: string): Promise<{ events: RecordedEvent[], integrity: unknown }> {
  const store = openSqliteEventStore({ path })
  try {
    const events: RecordedEvent[] = []
    for (let page = await store.readAll(); page.length > 0; page = await store.readAll({ after: page[page.length - 1]?.position })) {
      events.push(...page)
    }
    return { events, integrity: store.db.pragma('integrity_check', { simple: true }) }
  } finally {
    await store.close()
  }
}

function checkAcknowledged (t: Test, events: readonly RecordedEvent[], acks: readonly Ack[]): void {
  const byId = new Map(events.map((event) => [event.id, event]))
  const missing = acks.filter((ack) => {
    const event = byId.get(ack.id)
    return event?.stream !== ack.stream || event.revision !== ack.revision
  })
  t.strictSame(missing, [], `all ${acks.length} acknowledged events are stored where they were acknowledged`)
}

function checkNoGaps (t: Test, events: readonly RecordedEvent[]): void {
  t.ok(events.every((event, i) => event.position === i + 1), 'positions run 1…n without gaps')
  const revisions = new Map<string, number[]>()
  for (const event of events) revisions.set(event.stream, [...(revisions.get(event.stream) ?? []), event.revision])
  const torn = [...revisions].filter(([, list]) => list.some((revision, i) => revision !== i))
  t.strictSame(torn, [], `revisions of ${revisions.size} streams run 0…n without gaps`)
}

/** A batch is one append: all of its events or none, next to each other. */
function checkBatchesWhole (t: Test, events: readonly RecordedEvent[]): void {
  const batches = new Map<string, RecordedEvent[]>()
  for (const event of events) {
    const { batch } = event.data as unknown as BatchData
    batches.set(batch, [...(batches.get(batch) ?? []), event])
  }
  const torn = [...batches].filter(([, members]) => {
    const { size } = members[0]?.data as unknown as BatchData
    return members.length !== size ||
      members.some((event, i) => (event.data as unknown as BatchData).index !== i ||
        event.position !== (members[0] as RecordedEvent).position + i)
  })
  t.strictSame(torn.map(([batch]) => batch), [], `all ${batches.size} batches are whole`)
}

t.test('acknowledged appends survive kill -9 of the writing process', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'idm-eventstore-crash-'))
  t.teardown(() => rmSync(dir, { recursive: true, force: true }))
  const path = join(dir, 'events.db')
  const acks: Ack[] = []

  for (let cycle = 1; cycle <= CYCLES; cycle++) {
    const killAfter = 20 + Math.floor(Math.random() * 300)
    await t.test(`cycle ${cycle}: kill after ${killAfter} acks`, async (t) => {
      const appender = spawnAppender(path, `crash-${cycle}`, WRITERS, 'forever')
      await appender.waitForAcks(killAfter)
      // A little more randomness in where, within a commit, the kill lands.
      await sleep(Math.random() * 20)
      process.kill(appender.child.pid as number, 'SIGKILL')
      t.equal(await appender.exited, 'SIGKILL')
      acks.push(...appender.acks)

      const { events, integrity } = await readEverything(path)
      t.equal(integrity, 'ok', 'the file passes integrity_check')
      checkAcknowledged(t, events, acks)
      checkNoGaps(t, events)
      checkBatchesWhole(t, events)
    })
  }
})
