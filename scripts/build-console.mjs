#!/usr/bin/env node
/**
 * Builds the admin console (src/console, Preact + TSX) into dist/console: one minified ES module
 * and one stylesheet (Pico CSS bundled with the console's own rules), both content-hashed so they
 * can be cached for a year, and an index.html that names them (served with no-cache).
 *
 * The output is written to a fresh sibling directory and swapped in at the end, so a server or a
 * test reading dist/console never sees a half-written build.
 *
 *   node scripts/build-console.mjs [--out <dir>]
 */
import { mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs'
import { basename, dirname, join, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
import { build } from 'esbuild'

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..')
const outIndex = process.argv.indexOf('--out')
const out = outIndex > 0 ? resolve(process.argv[outIndex + 1]) : join(root, 'dist', 'console')
const staging = `${out}.tmp-${process.pid}`

export async function buildConsole () {
  rmSync(staging, { recursive: true, force: true })
  mkdirSync(staging, { recursive: true })
  const result = await build({
    absWorkingDir: root,
    entryPoints: { app: 'src/console/main.tsx', styles: 'src/console/styles.css' },
    outdir: staging,
    entryNames: '[name]-[hash]',
    bundle: true,
    minify: true,
    format: 'esm',
    target: ['es2020', 'chrome100', 'firefox100', 'safari15'],
    jsx: 'automatic',
    jsxImportSource: 'preact',
    sourcemap: false,
    legalComments: 'none',
    metafile: true,
    logLevel: 'warning'
  })
  const outputs = Object.keys(result.metafile.outputs).map((file) => basename(file))
  const script = outputs.find((file) => /^app-.*\.js$/.test(file))
  const style = outputs.find((file) => /^styles-.*\.css$/.test(file))
  if (script === undefined || style === undefined) throw new Error(`unexpected esbuild outputs: ${outputs.join(', ')}`)

  const template = readFileSync(join(root, 'src', 'console', 'index.html'), 'utf8')
  const html = template
    .replace('%STYLE%', `/console/${style}`)
    .replace('%SCRIPT%', `/console/${script}`)
  writeFileSync(join(staging, 'index.html'), html)

  rmSync(out, { recursive: true, force: true })
  mkdirSync(dirname(out), { recursive: true })
  renameSync(staging, out)
  const sizes = Object.fromEntries(Object.entries(result.metafile.outputs).map(([file, info]) => [basename(file), info.bytes]))
  return { out, script, style, sizes }
}

if (process.argv[1] !== undefined && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  try {
    const { out: dir, sizes } = await buildConsole()
    const list = Object.entries(sizes).map(([file, bytes]) => `${file} ${(bytes / 1024).toFixed(1)} KiB`).join(', ')
    console.log(`console built into ${dir}: ${list}`)
  } catch (error) {
    rmSync(staging, { recursive: true, force: true })
    console.error(error instanceof Error ? error.message : error)
    process.exit(1)
  }
}
