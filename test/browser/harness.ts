/**
 * What the console's browser tests share: the console build (made here when missing or older
 * than its sources, since `npm test` runs on a clean checkout without `npm run build`), the real
 * service listening on 127.0.0.1:0, and Debian's Chromium driven by playwright-core, with
 * screenshots written where CI lists them: test/browser/screenshots/ (ignored by git; a test run
 * writes nothing into tracked files). docs/screenshots/ holds copies refreshed by hand
 * (docs/console.md).
 */
import { execFileSync } from 'node:child_process'
import { existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, statSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { dirname, join, relative } from 'node:path'
import { fileURLToPath } from 'node:url'
import { chromium, type BrowserContext, type ConsoleMessage, type Page } from 'playwright-core'
import type { Test } from 'tap'
import { openApiService, type ApiService } from '../helpers/api.js'

export const ROOT = fileURLToPath(new URL('../../', import.meta.url))
export const CHROMIUM = '/usr/bin/chromium'
export const SCREENSHOTS = join(ROOT, 'test', 'browser', 'screenshots')
const BUILD = join(ROOT, 'dist', 'console', 'index.html')
const SOURCES = join(ROOT, 'src', 'console')

/** Generous: two cores shared with other test files; every wait is for an element, never a sleep. */
export const TIMEOUT_MS = 45_000

/**
 * Why the browser tests cannot run here, or null. Without Chromium they are skipped with the
 * reason printed, except in CI (CI=true), where a missing browser is a failure.
 */
export function missingBrowser (): string | null {
  if (existsSync(CHROMIUM)) return null
  return `${CHROMIUM} is missing (apt-get install chromium); the console's browser tests need it`
}

const newest = (dir: string): number => Math.max(...readdirSync(dir, { withFileTypes: true }).map((entry) =>
  entry.isDirectory() ? newest(join(dir, entry.name)) : statSync(join(dir, entry.name)).mtimeMs))

const fresh = (): boolean => existsSync(BUILD) && statSync(BUILD).mtimeMs >= newest(SOURCES)

/** A lock directory (mkdir is atomic): test files running in parallel build one at a time. */
const LOCK = join(ROOT, 'dist', '.console-build.lock')
const pause = (ms: number): void => { Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms) }

/** Builds dist/console unless a build newer than every source file is there. */
export function ensureConsoleBuilt (t: Test): void {
  if (fresh()) return
  mkdirSync(dirname(LOCK), { recursive: true })
  const staleAfter = Date.now() + 120_000
  for (;;) {
    try {
      mkdirSync(LOCK)
      break
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error
    }
    if (Date.now() > staleAfter) rmSync(LOCK, { recursive: true, force: true }) // left by a killed run
    else pause(100)
  }
  try {
    if (fresh()) return // another test file built it while this one waited
    const output = execFileSync(process.execPath, [join(ROOT, 'scripts', 'build-console.mjs')], { cwd: ROOT, encoding: 'utf8' })
    t.comment(output.trim())
  } finally {
    rmSync(LOCK, { recursive: true, force: true })
  }
}

export interface ConsoleHarness {
  readonly svc: ApiService
  readonly base: string
  readonly context: BrowserContext
  /** A new tab (its own sessionStorage, so its own signed-in session), failing the test on page errors. */
  newPage (): Promise<Page>
  /** Saves a screenshot (full page unless told) into test/browser/screenshots. */
  screenshot (page: Page, name: string, options?: { fullPage?: boolean }): Promise<string>
}

/** Debian's Chromium, headless, in a fresh profile removed when the test ends. */
export async function launchChromium (t: Test): Promise<BrowserContext> {
  const profile = mkdtempSync(join(tmpdir(), 'idm-chromium-'))
  const context = await chromium.launchPersistentContext(profile, {
    executablePath: CHROMIUM,
    headless: true,
    // Without the background-networking flags Chromium's own connections are refused by a closed network.
    args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking',
      '--disable-component-update', '--disable-sync', '--disable-dev-shm-usage'],
    viewport: { width: 1280, height: 900 },
    timezoneId: 'UTC',
    locale: 'en-US'
  })
  context.setDefaultTimeout(TIMEOUT_MS)
  context.setDefaultNavigationTimeout(TIMEOUT_MS)
  t.teardown(async () => {
    await context.close()
    rmSync(profile, { recursive: true, force: true })
  })
  return context
}

export async function openConsoleHarness (t: Test): Promise<ConsoleHarness> {
  ensureConsoleBuilt(t)
  // The service is opened after the build: the console plugin lists the built files at start-up.
  const svc = await openApiService(t)
  await svc.app.listen({ host: '127.0.0.1', port: 0 })
  const address = svc.app.server.address()
  if (address === null || typeof address === 'string') throw new Error('the service is not listening on a TCP port')
  const base = `http://127.0.0.1:${address.port}`

  const context = await launchChromium(t)
  mkdirSync(SCREENSHOTS, { recursive: true })

  const newPage = async (): Promise<Page> => {
    const page = await context.newPage()
    // A script error or a CSP violation in the console is a failure, not noise.
    page.on('pageerror', (error) => t.fail(`page error: ${error.message}`))
    page.on('console', (message: ConsoleMessage) => {
      if (message.type() === 'error' && !/Failed to load resource: the server responded with a status of 4\d\d/.test(message.text())) t.fail(`console error: ${message.text()}`)
    })
    return page
  }

  const screenshot: ConsoleHarness['screenshot'] = async (page, name, options = {}) => {
    const path = join(SCREENSHOTS, `${name}.png`)
    const fullPage = options.fullPage ?? true
    await page.screenshot({ path, fullPage })
    t.comment(`screenshot: ${relative(ROOT, path)}`)
    return path
  }

  return { svc, base, context, newPage, screenshot }
}

/** Signs in through the form and waits for the signed-in shell. */
export async function signIn (page: Page, base: string, username: string, password: string, path = '/console/'): Promise<void> {
  await page.goto(`${base}${path}`)
  await page.getByLabel('Username').fill(username)
  await page.getByLabel('Password', { exact: true }).fill(password)
  await page.getByRole('button', { name: 'Sign in' }).click()
  await page.getByTestId('whoami').filter({ hasText: username }).waitFor()
}

export interface ContrastFailure { text: string, ratio: number, needed: number, color: string, background: string }

/**
 * WCAG 2 contrast of every visible piece of text on the page against the background it is drawn
 * on (the nearest ancestor with a background colour), returning the ones below AA: 4.5:1, or 3:1
 * for large text (24 px, or 18.66 px bold). Disabled controls and placeholders are exempt, as in
 * WCAG. Runs as a function in the page (the console's CSP refuses evaluated strings).
 */
export async function contrastFailures (page: Page): Promise<ContrastFailure[]> {
  return await page.evaluate(() => {
    /* eslint-disable @typescript-eslint/no-explicit-any */
    const doc = (globalThis as any).document
    const view = globalThis as any
    const parse = (value: string): number[] => {
      const match = /rgba?\(([^)]+)\)/.exec(value)
      if (match === null) return [0, 0, 0, 0]
      const parts = match[1]!.split(/[ ,/]+/).filter((p: string) => p !== '').map(Number)
      return [parts[0]!, parts[1]!, parts[2]!, parts[3] ?? 1]
    }
    const blend = (top: number[], bottom: number[]): number[] => top.slice(0, 3).map((c, i) => c * top[3]! + bottom[i]! * (1 - top[3]!)).concat(1)
    const background = (element: any): number[] => {
      const layers: number[][] = []
      for (let node = element; node !== null; node = node.parentElement) {
        const bg = parse(view.getComputedStyle(node).backgroundColor)
        if (bg[3]! > 0) layers.push(bg)
        if (bg[3] === 1) break
      }
      return layers.reverse().reduce((under, layer) => blend(layer, under), [255, 255, 255, 1])
    }
    const luminance = (rgb: number[]): number => {
      const [r, g, b] = rgb.slice(0, 3).map((c) => { const s = c / 255; return s <= 0.03928 ? s / 12.92 : ((s + 0.055) / 1.055) ** 2.4 })
      return 0.2126 * r! + 0.7152 * g! + 0.0722 * b!
    }
    const failures: { text: string, ratio: number, needed: number, color: string, background: string }[] = []
    const walker = doc.createTreeWalker(doc.body, 4 /* NodeFilter.SHOW_TEXT */)
    for (let node = walker.nextNode(); node !== null; node = walker.nextNode()) {
      const text = node.textContent.trim()
      const element = node.parentElement
      if (text === '' || element === null) continue
      const style = view.getComputedStyle(element)
      const box = element.getBoundingClientRect()
      if (style.visibility === 'hidden' || style.display === 'none' || box.width === 0 || box.height === 0) continue
      if (element.closest('[disabled], .visually-hidden, .skip-link, option') !== null) continue
      const bg = background(element)
      const fg = blend(parse(style.color), bg)
      const [light, dark] = [luminance(fg), luminance(bg)].sort((a, b) => b - a)
      const ratio = (light! + 0.05) / (dark! + 0.05)
      const size = parseFloat(style.fontSize)
      const large = size >= 24 || (size >= 18.66 && Number(style.fontWeight) >= 700)
      const needed = large ? 3 : 4.5
      if (ratio < needed) failures.push({ text: text.slice(0, 40), ratio: Math.round(ratio * 100) / 100, needed, color: style.color, background: `rgb(${bg.slice(0, 3).map(Math.round).join(', ')})` })
    }
    return failures
  })
}
