/**
 * The HTML of the sign-in pages (login, consent, sign-out, errors): plain server-rendered pages in
 * the console's style (its built stylesheet, Pico CSS plus the console's rules, when the console
 * is built; readable without it). No script at all, and a Content-Security-Policy that allows
 * nothing but this origin's stylesheet and the one place each form may lead to.
 */
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { defaultConsoleRoot } from '../http/plugins/console.js'

export const escapeHtml = (s: string): string => s.replace(/[&<>"']/g, c => `&#${c.charCodeAt(0)};`)

/** The console's content-hashed stylesheet (/console/styles-….css), or null without a build. */
export function consoleStylesheet (root = defaultConsoleRoot()): string | null {
  try {
    const index = readFileSync(join(root, 'index.html'), 'utf8')
    return /<link rel="stylesheet" href="(\/console\/styles-[A-Za-z0-9_-]+\.css)">/.exec(index)?.[1] ?? null
  } catch {
    return null
  }
}

/**
 * The policy of these pages. `form-action` lists this origin and, where a form's answer
 * redirects on to a client (sign-in to its redirect_uri, sign-out to its
 * post_logout_redirect_uri), that client's registered origin: browsers check form-action on the
 * redirects that follow a submission too.
 */
export function pageCsp (formTargets: readonly string[] = []): string {
  const origins = [...new Set(formTargets.flatMap(target => {
    try {
      const origin = new URL(target).origin
      return origin === 'null' ? [] : [origin]
    } catch {
      return []
    }
  }))]
  return [
    "default-src 'none'",
    "style-src 'self'",
    "img-src 'self' data:",
    ['form-action', "'self'", ...origins].join(' '),
    "frame-ancestors 'none'",
    "base-uri 'none'"
  ].join('; ')
}

export interface PageOptions {
  readonly title: string
  /** Already-escaped HTML. */
  readonly body: string
  readonly stylesheet: string | null
}

export function page (options: PageOptions): string {
  const style = options.stylesheet === null ? '' : `\n  <link rel="stylesheet" href="${escapeHtml(options.stylesheet)}">`
  return `<!doctype html>
<html lang="en" data-theme="light">
<head>
  <meta charset="utf-8">
  <meta name="viewport" content="width=device-width, initial-scale=1">
  <meta name="color-scheme" content="light">
  <meta name="referrer" content="same-origin">
  <title>${escapeHtml(options.title)} · Identity Manager</title>
  <link rel="icon" href="data:,">${style}
</head>
<body>
<main class="container sign-in">
<article>
${options.body}
</article>
</main>
</body>
</html>
`
}

export function errorPage (stylesheet: string | null, title: string, message: string, detail = ''): string {
  return page({
    title,
    stylesheet,
    body: `<h1>${escapeHtml(title)}</h1>
<p role="alert">${escapeHtml(message)}</p>${detail === '' ? '' : `\n<p><small><code>${escapeHtml(detail)}</code></small></p>`}`
  })
}
