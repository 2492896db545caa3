/** docs/configuration.md, generated from the variables loadConfig validates (a test keeps it in step). */
import { CONFIG_VARIABLES } from './config.js'

export function renderConfigReference (): string {
  const escape = (s: string) => s.replace(/\|/g, '\\|').replace(/</g, '&lt;')
  return [
    '# Configuration',
    '',
    'Every setting is an environment variable, read and validated once at start-up (`src/config.ts`).',
    'An invalid value stops the service with exit code 1 and a message naming every bad variable.',
    'Durations are seconds. Generated from `CONFIG_VARIABLES`; regenerate with',
    '`UPDATE_DOCS=1 npx tap test/docs.test.ts`.',
    '',
    '| variable | default | meaning |',
    '|---|---|---|',
    ...CONFIG_VARIABLES.map(v => `| \`${v.name}\` | ${v.default === null || v.default === '' ? '—' : `\`${v.default}\``} | ${escape(v.description)} |`),
    ''
  ].join('\n')
}
