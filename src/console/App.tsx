/**
 * The shell: who is signed in (GET /v1/users/me, whose roles are the current ones, not the
 * token's), the navigation their roles allow, and the page for the current path. Without a
 * session every path shows the sign-in form, and after signing in the same page opens.
 */
import { useCallback, useEffect, useRef, useState } from 'preact/hooks'
import { ApiError, describe, get, setUnauthorizedHandler } from './api'
import { forgetCatalog } from './catalogs'
import { Notice } from './components/Notice'
import { accessOf, type Access, type User } from './model'
import { Catalogs } from './pages/Catalogs'
import { Clients } from './pages/Clients'
import { LiveFeed } from './pages/LiveFeed'
import { MyProfile } from './pages/MyProfile'
import { SignIn } from './pages/SignIn'
import { UserCreate } from './pages/UserCreate'
import { UserDetail } from './pages/UserDetail'
import { UserHistory } from './pages/UserHistory'
import { UsersList } from './pages/UsersList'
import { href, navigate, onLinkClick, parse, useLocation, type Route } from './router'
import { session } from './session'

const ENDED = 'Your session has ended: it expired or was revoked. Sign in again.'

type Who = { state: 'loading' } | { state: 'anonymous', notice: string | null } | { state: 'signed-in', me: User, access: Access }

export function App () {
  const location = useLocation()
  const route = parse(location.pathname)
  const [who, setWho] = useState<Who>(() => session.token() === null ? { state: 'anonymous', notice: session.takeNotice() } : { state: 'loading' })
  const [loadError, setLoadError] = useState<string | null>(null)

  const signOut = useCallback((notice?: string) => {
    session.end(notice)
    forgetCatalog()
    setWho({ state: 'anonymous', notice: session.takeNotice() })
  }, [])

  useEffect(() => { setUnauthorizedHandler(() => signOut(ENDED)) }, [signOut])

  const loadMe = useCallback(async () => {
    setLoadError(null)
    try {
      const { data } = await get<User>('/v1/users/me')
      setWho({ state: 'signed-in', me: data, access: accessOf(data.roles) })
    } catch (error) {
      if (!(error instanceof ApiError && error.status === 401)) setLoadError(describe(error))
    }
  }, [])

  useEffect(() => { if (who.state === 'loading') void loadMe() }, [who.state, loadMe])

  if (who.state === 'anonymous') {
    return <SignIn notice={who.notice} onSignedIn={(token) => { session.start(token); setWho({ state: 'loading' }) }} />
  }
  if (who.state === 'loading') {
    return (
      <main class="container" id="main">
        {loadError === null ? <p aria-busy="true">Loading…</p> : <Notice kind="error">{loadError} <button type="button" onClick={() => void loadMe()}>Retry</button></Notice>}
      </main>
    )
  }
  return <Shell route={route} me={who.me} access={who.access} onSignOut={() => signOut()} onSessionEnded={signOut} />
}

interface ShellProps {
  route: Route
  me: User
  access: Access
  onSignOut: () => void
  onSessionEnded: (notice: string) => void
}

function Shell ({ route, me, access, onSignOut, onSessionEnded }: ShellProps) {
  const mainRef = useRef<HTMLElement>(null)
  const key = `${route.page}:${'id' in route ? route.id : ''}:${'kind' in route ? route.kind ?? '' : ''}`

  // Each page change moves focus to the page's heading, so keyboard and screen-reader users
  // start on the new content instead of the link they activated.
  const first = useRef(true)
  useEffect(() => {
    if (first.current) { first.current = false; return }
    mainRef.current?.querySelector<HTMLElement>('h1')?.focus()
  }, [key])

  useEffect(() => {
    if (route.page === 'home') navigate(access.read ? '/users' : access.feed ? '/feed' : '/me', { replace: true })
  }, [route.page, access])

  const page = pageFor(route, me, access, onSessionEnded)
  const current = (name: string): 'page' | undefined => route.page === name || (name === 'users' && ['user', 'user-new', 'history'].includes(route.page)) ? 'page' : undefined
  return (
    <div onClick={(event) => onLinkClick(event as unknown as MouseEvent)}>
      <a class="skip-link" href="#main">Skip to content</a>
      <header class="container console-nav">
        <nav aria-label="Main">
          <ul><li><strong>Identity console</strong></li></ul>
          <ul>
            {access.read ? <li><a href={href('/users')} aria-current={current('users')}>Users</a></li> : null}
            {access.read ? <li><a href={href('/catalogs')} aria-current={current('catalogs')}>Catalogs</a></li> : null}
            {access.read ? <li><a href={href('/clients')} aria-current={current('clients')}>OAuth clients</a></li> : null}
            {access.feed ? <li><a href={href('/feed')} aria-current={current('feed')}>Live feed</a></li> : null}
            <li><a href={href('/me')} aria-current={current('me')}>My profile</a></li>
            <li class="who">Signed in as <strong data-testid="whoami">{me.username}</strong></li>
            <li><button type="button" class="secondary outline" onClick={onSignOut}>Sign out</button></li>
          </ul>
        </nav>
      </header>
      <main class="container" id="main" tabIndex={-1} ref={mainRef} key={key}>
        {page}
      </main>
    </div>
  )
}

function pageFor (route: Route, me: User, access: Access, onSessionEnded: (notice: string) => void) {
  const denied = <NotAllowed />
  switch (route.page) {
    case 'home': return <p aria-busy="true">Opening…</p>
    case 'users': return access.read ? <UsersList access={access} /> : denied
    case 'user-new': return access.manage ? <UserCreate /> : denied
    case 'user': return access.read ? <UserDetail id={route.id} access={access} onOwnSessionEnded={onSessionEnded} /> : denied
    case 'history': return access.read ? <UserHistory id={route.id} /> : denied
    case 'catalogs': return access.read ? <Catalogs kind={route.kind} access={access} /> : denied
    case 'clients': return access.read ? <Clients access={access} /> : denied
    case 'feed': return access.feed ? <LiveFeed access={access} onUnauthorized={() => onSessionEnded(ENDED)} /> : denied
    case 'me': return <MyProfile me={me} onPasswordChanged={() => onSessionEnded('Your password was changed. Sign in with the new password.')} onOwnSessionEnded={onSessionEnded} />
    case 'not-found': return <><h1 tabIndex={-1}>Page not found</h1><p><a href={href('/')}>Go to the start page</a></p></>
  }
}

function NotAllowed () {
  return (
    <>
      <h1 tabIndex={-1}>Not available</h1>
      <p>Your account's roles do not include this page. <a href={href('/me')}>Go to your profile</a>.</p>
    </>
  )
}
