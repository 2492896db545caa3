import { readFileSync, writeFileSync } from 'node:fs'
import t from 'tap'
import { renderConfigReference } from '../src/config-docs.js'
import { renderEventReference } from '../src/domain/event-docs.js'
import { renderCompanyScopeDoc } from '../src/http/auth/access-table.js'

const generated: [string, () => string][] = [
  ['events.md', renderEventReference],
  ['configuration.md', renderConfigReference],
  ['company-scope.md', renderCompanyScopeDoc]
]

for (const [file, render] of generated) {
  t.test(`docs/${file} says what the code says`, async t => {
    const path = new URL(`../docs/${file}`, import.meta.url)
    const expected = render()
    if (process.env.UPDATE_DOCS === '1') writeFileSync(path, expected)
    t.equal(readFileSync(path, 'utf8'), expected, 'run UPDATE_DOCS=1 npx tap test/docs.test.ts after changing it')
  })
}
