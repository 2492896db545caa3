/**
 * A small history-API router for the console's few pages, all under /console/. The server
 * answers every /console/<page> path with index.html, so a reload or a shared link lands on
 * the same page.
 */
import { useEffect, useState } from 'preact/hooks'

export const BASE = '/console'

export type Route =
  | { page: 'home' }
  | { page: 'users' }
  | { page: 'user-new' }
  | { page: 'user', id: string }
  | { page: 'history', id: string }
  | { page: 'catalogs', kind: string | null }
  | { page: 'feed' }
  | { page: 'me' }
  | { page: 'clients' }
  | { page: 'not-found' }

export function parse (pathname: string): Route {
  const path = pathname.startsWith(BASE) ? pathname.slice(BASE.length) : pathname
  const parts = path.split('/').filter((part) => part !== '').map(decodeURIComponent)
  const [first, second, third] = parts
  if (first === undefined) return { page: 'home' }
  if (first === 'users') {
    if (second === undefined) return { page: 'users' }
    if (second === 'new' && third === undefined) return { page: 'user-new' }
    if (third === undefined) return { page: 'user', id: second }
    if (third === 'history' && parts.length === 3) return { page: 'history', id: second }
  }
  if (first === 'catalogs' && parts.length <= 2) return { page: 'catalogs', kind: second ?? null }
  if (first === 'feed' && parts.length === 1) return { page: 'feed' }
  if (first === 'me' && parts.length === 1) return { page: 'me' }
  if (first === 'clients' && parts.length === 1) return { page: 'clients' }
  return { page: 'not-found' }
}

/** /console + the in-app path, with an optional query. */
export const href = (path: string): string => `${BASE}${path}`

const listeners = new Set<() => void>()

export function navigate (path: string, options: { replace?: boolean } = {}): void {
  const url = path.startsWith(BASE) ? path : href(path)
  if (options.replace === true) history.replaceState(null, '', url)
  else history.pushState(null, '', url)
  for (const listener of listeners) listener()
}

export interface Location { pathname: string, search: URLSearchParams }

const current = (): Location => ({ pathname: location.pathname, search: new URLSearchParams(location.search) })

/** The current location; re-renders on navigate() and on the browser's back and forward. */
export function useLocation (): Location {
  const [value, setValue] = useState(current)
  useEffect(() => {
    const update = (): void => setValue(current())
    listeners.add(update)
    window.addEventListener('popstate', update)
    return () => {
      listeners.delete(update)
      window.removeEventListener('popstate', update)
    }
  }, [])
  return value
}

/** Client-side navigation for plain links (modified clicks keep the browser's behaviour). */
export function onLinkClick (event: MouseEvent): void {
  if (event.defaultPrevented || event.button !== 0 || event.metaKey || event.ctrlKey || event.shiftKey || event.altKey) return
  const anchor = (event.target as Element | null)?.closest('a')
  if (anchor === null || anchor === undefined || anchor.target !== '' || anchor.origin !== location.origin) return
  // In-page links (the skip link) keep the browser's behaviour: scroll and move the focus there.
  if (!anchor.pathname.startsWith(BASE) || anchor.getAttribute('href')?.startsWith('#') === true) return
  event.preventDefault()
  navigate(anchor.pathname + anchor.search)
}
