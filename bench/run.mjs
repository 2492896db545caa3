// `npm run bench`: runs bench/main.ts under the TypeScript loader tap ships with (transpile only,
// so the suite starts in a second); arguments are passed through (`npm run bench -- --quick`).
// SIGINT and SIGTERM are passed on to the suite, which stops the servers it started before it
// exits; this process exits with the suite's status.
import { spawn } from 'node:child_process'
import { fileURLToPath } from 'node:url'

const main = fileURLToPath(new URL('./main.ts', import.meta.url))
const child = spawn(process.execPath, ['--import', '@tapjs/typescript/import', main, ...process.argv.slice(2)], {
  stdio: 'inherit',
  env: { ...process.env, TS_NODE_TRANSPILE_ONLY: '1' }
})
for (const signal of ['SIGINT', 'SIGTERM']) {
  process.on(signal, () => { child.kill(signal) })
}
child.on('exit', (code, signal) => { process.exit(code ?? (signal === null ? 1 : 130)) })
