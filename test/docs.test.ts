import { readFileSync, writeFileSync } from 'node:fs'
import t from 'tap'
import { renderEventReference } from '../src/domain/event-docs.js'

const path = new URL('../docs/events.md', import.meta.url)

t.test('docs/events.md lists every event type with its fields, as the schemas say', async t => {
  const expected = renderEventReference()
  if (process.env.UPDATE_DOCS === '1') writeFileSync(path, expected)
  t.equal(readFileSync(path, 'utf8'), expected, 'run UPDATE_DOCS=1 npx tap test/docs.test.ts after changing an event')
})
