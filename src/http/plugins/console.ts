/**
 * The admin console at /console: the static build of src/console (dist/console, made by
 * `npm run build` or scripts/build-console.mjs), served with @fastify/static.
 *
 * - The content-hashed script and stylesheet are cached for a year (`immutable`); index.html is
 *   `no-cache`, so a new build is picked up on the next load.
 * - Every other path under /console (a client-side page such as /console/users/<id>) gets
 *   index.html, so reloads and shared links work; a missing asset (a path with an extension)
 *   is a plain 404 problem.
 * - The API's Content-Security-Policy forbids everything (`default-src 'none'`); these pages get
 *   their own: script and style from this origin only, no inline code, calls back to this
 *   origin only, no framing.
 * - The console is a client of the public /v1 API like any other: no route here reads data.
 *
 * When there is no build, /console answers 404 with a problem that says how to build it, and
 * the API is unaffected.
 */
import { existsSync } from 'node:fs'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import fastifyStatic from '@fastify/static'
import type { FastifyPluginAsync, FastifyReply } from 'fastify'
import { problem } from './problems.js'

export const CONSOLE_PREFIX = '/console'

export const CONSOLE_CSP = [
  "default-src 'none'",
  "script-src 'self'",
  "style-src 'self'",
  // Pico CSS draws its icons (select arrows, checkboxes) as data: SVG images.
  "img-src 'self' data:",
  "font-src 'self'",
  "connect-src 'self'",
  "manifest-src 'self'",
  "form-action 'self'",
  "frame-ancestors 'none'",
  "base-uri 'none'"
].join('; ')

export interface ConsoleOptions {
  /** The built console; default dist/console of this package (found from src/ or dist/). */
  readonly root?: string
}

/**
 * The package's dist/console. This file sits three levels below the package root both as source
 * (src/http/plugins) and compiled (dist/http/plugins), so one relative path serves both.
 */
export function defaultConsoleRoot (): string {
  return fileURLToPath(new URL('../../../dist/console/', import.meta.url))
}

const noIndex = (): never => {
  throw problem.notFound('The console is not built. Run `npm run build` (or `node scripts/build-console.mjs`) and restart.')
}

export const consolePlugin: FastifyPluginAsync<ConsoleOptions> = async (app, options) => {
  const root = options.root ?? defaultConsoleRoot()
  const built = existsSync(join(root, 'index.html'))

  // Encapsulated: these hooks touch only the console's routes, after helmet's global onRequest
  // hook has set the API's policy (a reply header set later wins over the raw one).
  app.addHook('onSend', async (_request, reply: FastifyReply, payload) => {
    reply.header('content-security-policy', CONSOLE_CSP)
    return payload
  })

  if (built) {
    await app.register(fastifyStatic, {
      root,
      prefix: `${CONSOLE_PREFIX}/`,
      // One route per built file, found once at start-up: everything else falls to the page route.
      wildcard: false,
      index: false,
      dotfiles: 'ignore',
      maxAge: '365d',
      immutable: true,
      globIgnore: ['index.html']
    })
  }

  const page = async (_request: unknown, reply: FastifyReply): Promise<void> => {
    if (!built) noIndex()
    reply.header('cache-control', 'no-cache')
    return reply.sendFile('index.html', root, { maxAge: 0, immutable: false, cacheControl: false })
  }
  const route = { schema: { hide: true }, config: { auth: false as const } }
  app.get(CONSOLE_PREFIX, route, page)
  app.get(`${CONSOLE_PREFIX}/`, route, page)
  app.get(`${CONSOLE_PREFIX}/*`, route, async (request, reply) => {
    const rest = (request.params as { '*': string })['*']
    if (/\.[A-Za-z0-9]{1,8}$/.test(rest)) throw problem.notFound('No such console file.')
    return await page(request, reply)
  })
}
