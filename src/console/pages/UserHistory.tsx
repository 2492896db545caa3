/**
 * A user's audit trail as a timeline (oldest first, as the log holds it): what happened, when,
 * who did it and the correlation id of the request, with the event's data (secrets arrive
 * redacted). "As of" folds the user from the log at an instant: pick a date and time, or jump
 * to the moment of any event in the timeline.
 */
import { Fragment } from 'preact'
import { useEffect, useState } from 'preact/hooks'
import { ApiError, describe, get, type Page } from '../api'
import { TextField } from '../components/Field'
import { Notice } from '../components/Notice'
import { formatTime, fullName, type HistoryItem, type User } from '../model'
import { href } from '../router'

/** UserRoleAssigned → "User role assigned". */
export const humanize = (type: string): string => type.replace(/([a-z0-9])([A-Z])/g, '$1 $2').replace(/^(\w)(.*)$/, (_m, first: string, rest: string) => first + rest.toLowerCase())

/** The value for <input type="datetime-local" step="1"> of an instant, in local time. */
function localInput (iso: string): string {
  const date = new Date(iso)
  const pad = (n: number): string => String(n).padStart(2, '0')
  return `${date.getFullYear()}-${pad(date.getMonth() + 1)}-${pad(date.getDate())}T${pad(date.getHours())}:${pad(date.getMinutes())}:${pad(date.getSeconds())}`
}

/** firstName → "First name", roleId → "Role": data keys read as labels. */
export const label = (key: string): string => {
  const words = key.replace(/Id$/, '').replace(/([a-z0-9])([A-Z])/g, '$1 $2').toLowerCase()
  return words[0]!.toUpperCase() + words.slice(1)
}

const show = (value: unknown): string => value === null || value === undefined ? '—' : typeof value === 'string' ? value : JSON.stringify(value)

/** Events that restate the whole profile: only what differs from before is worth reading. */
const PROFILE_EVENTS = new Set(['UserRegistered', 'UserProfileUpdated'])

/**
 * What each event changed, as label/value pairs. Profile updates carry every profile field, so
 * they are compared with the profile folded from the earlier events ("Ríos → Ríos Peña"); other
 * events are shown as they are. The user's own id is the page's subject and is left out.
 */
export function changesOf (items: readonly HistoryItem[]): Map<string, [string, string][]> {
  const known: Record<string, unknown> = {}
  const result = new Map<string, [string, string][]>()
  for (const item of items) {
    const entries = Object.entries(item.data).filter(([key]) => key !== 'userId')
    if (item.type === 'UserProfileUpdated') {
      result.set(item.id, entries.filter(([key, value]) => JSON.stringify(known[key]) !== JSON.stringify(value))
        .map(([key, value]) => [key, key in known ? `${show(known[key])} → ${show(value)}` : show(value)]))
    } else if (item.type === 'UserRegistered') {
      result.set(item.id, entries.filter(([, value]) => value !== null && !(Array.isArray(value) && value.length === 0)).map(([key, value]) => [key, show(value)]))
    } else {
      result.set(item.id, entries.map(([key, value]) => [key, show(value)]))
    }
    if (PROFILE_EVENTS.has(item.type)) Object.assign(known, item.data)
  }
  return result
}

export function UserHistory ({ id }: { id: string }) {
  const [user, setUser] = useState<User | null>(null)
  const [items, setItems] = useState<HistoryItem[]>([])
  const [next, setNext] = useState<string | null>(null)
  const [error, setError] = useState<string | null>(null)
  const [busy, setBusy] = useState(true)

  async function loadPage (after: string | null): Promise<void> {
    setBusy(true)
    try {
      const { data } = await get<Page<HistoryItem>>(`/v1/users/${encodeURIComponent(id)}/history?limit=50${after === null ? '' : `&after=${encodeURIComponent(after)}`}`)
      setItems((current) => after === null ? data.items : [...current, ...data.items])
      setNext(data.nextCursor)
    } catch (err) {
      setError(err instanceof ApiError && err.status === 404 ? 'No such user.' : describe(err))
    } finally {
      setBusy(false)
    }
  }

  useEffect(() => {
    get<User>(`/v1/users/${encodeURIComponent(id)}`).then(({ data }) => setUser(data), (err: unknown) => setError(describe(err)))
    void loadPage(null)
  }, [id])

  const changes = changesOf(items)
  return (
    <>
      <hgroup>
        <h1 tabIndex={-1}>History of {user?.username ?? 'user'}</h1>
        <p><a href={href(`/users/${id}`)}>Back to the user</a></p>
      </hgroup>
      {error === null ? null : <Notice kind="error">{error}</Notice>}
      <div class="history-layout">
        <AsOf id={id} />
        <section aria-labelledby="timeline-heading" class="history-timeline">
          <h2 id="timeline-heading">Timeline</h2>
          <p role="status" aria-busy={busy}>{busy ? 'Loading events…' : `${items.length} event${items.length === 1 ? '' : 's'}${next === null ? '' : ' so far'}.`}</p>
          <ol class="timeline" aria-label="Events, oldest first">
            {items.map((item) => (
              <li key={item.id} data-type={item.type}>
                <strong>{humanize(item.type)}</strong>
                <dl>
                  <dt>When</dt><dd><time dateTime={item.occurredAt}>{formatTime(item.occurredAt)}</time></dd>
                  <dt>Who</dt><dd>{item.actor.username ?? (item.actor.id === null ? 'the system' : item.actor.id)}</dd>
                  <dt>Correlation id</dt><dd class="mono">{item.correlationId ?? '—'}</dd>
                  {(changes.get(item.id) ?? []).map(([key, value]) => <Fragment key={key}><dt>{label(key)}</dt><dd class="mono">{value}</dd></Fragment>)}
                </dl>
                <AsOfLink occurredAt={item.occurredAt} />
              </li>
            ))}
          </ol>
          {next === null ? null : <button type="button" class="secondary" disabled={busy} onClick={() => void loadPage(next)}>Load more events</button>}
        </section>
      </div>
    </>
  )
}

/** Events ask the as-of form to show their moment through this custom DOM event. */
const AS_OF_EVENT = 'idm-as-of'

function AsOfLink ({ occurredAt }: { occurredAt: string }) {
  return (
    <button type="button" class="outline secondary" onClick={(event) => event.currentTarget.dispatchEvent(new CustomEvent(AS_OF_EVENT, { bubbles: true, detail: occurredAt }))}>
      Show the user as of this moment
    </button>
  )
}

function AsOf ({ id }: { id: string }) {
  const [input, setInput] = useState('')
  const [instant, setInstant] = useState<string | null>(null)
  const [result, setResult] = useState<{ user: User | null, at: string } | null>(null)
  const [error, setError] = useState<string | null>(null)

  useEffect(() => {
    const listener = (event: Event): void => {
      const at = (event as CustomEvent<string>).detail
      setInput(localInput(at))
      setInstant(at)
      document.getElementById('as-of-heading')?.scrollIntoView({ block: 'nearest' })
    }
    document.addEventListener(AS_OF_EVENT, listener)
    return () => document.removeEventListener(AS_OF_EVENT, listener)
  }, [])

  useEffect(() => {
    if (instant === null) return
    setError(null)
    get<User>(`/v1/users/${encodeURIComponent(id)}?asOf=${encodeURIComponent(instant)}`)
      .then(({ data }) => setResult({ user: data, at: instant }), (err: unknown) => {
        if (err instanceof ApiError && err.status === 404) setResult({ user: null, at: instant })
        else setError(describe(err))
      })
  }, [id, instant])

  function submit (event: Event): void {
    event.preventDefault()
    const date = new Date(input)
    if (input === '' || Number.isNaN(date.getTime())) {
      setError('Choose a date and time.')
      return
    }
    setInstant(date.toISOString())
  }

  return (
    <section aria-labelledby="as-of-heading" class="history-as-of">
      <h2 id="as-of-heading">As of</h2>
      <form class="chip-picker" onSubmit={submit} aria-label="Show the user as of an instant">
        <TextField name="asOf" label="Date and time (your local time)" type="datetime-local" step="1" value={input} onValue={setInput} />
        <button type="submit">Show</button>
      </form>
      {error === null ? null : <Notice kind="error">{error}</Notice>}
      <div aria-live="polite" data-testid="as-of-result">
        {result === null
          ? null
          : result.user === null
            ? <Notice>The user did not exist yet on {formatTime(result.at)}.</Notice>
            : (
              <article class="user-card">
                <header>As of <time dateTime={result.at}>{formatTime(result.at)}</time> (version {result.user.version})</header>
                <dl>
                  <dt>Name</dt><dd>{fullName(result.user)}</dd>
                  <dt>Email</dt><dd>{result.user.email}</dd>
                  <dt>Status</dt><dd class={`status-${result.user.status}`}>{result.user.status}</dd>
                  <dt>Roles</dt><dd>{result.user.roles.join(', ') || '—'}</dd>
                  <dt>Companies</dt><dd>{result.user.companies.join(', ') || '—'}</dd>
                  <dt>Providers</dt><dd>{result.user.providers.map((link) => link.providerId).join(', ') || '—'}</dd>
                </dl>
              </article>
              )}
      </div>
    </section>
  )
}
