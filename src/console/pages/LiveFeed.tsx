/**
 * Identity events as they happen (the SSE stream of CloudEvents), newest first. The stream starts
 * with new events only; the page keeps the last 200.
 */
import { useEffect, useState } from 'preact/hooks'
import { Notice } from '../components/Notice'
import { formatTime, type Access, type CloudEvent } from '../model'
import { href } from '../router'
import { openFeed, type FeedState } from '../sse'

const KEEP = 200

const STATE_TEXT: Record<FeedState, string> = {
  connecting: 'Connecting…',
  live: 'Live: new events appear at the top.',
  reconnecting: 'Connection lost; reconnecting…',
  unauthorized: 'The stream refused your session; sign in again.',
  forbidden: 'Your roles no longer include the event feed.',
  closed: 'Closed.'
}

/** "dev.identity-manager.user.role-assigned.v1" → "user role-assigned". */
const shortType = (type: string): string => type.replace(/^dev\.identity-manager\./, '').replace(/\.v\d+$/, '').replace('.', ' ')

export function LiveFeed ({ access, onUnauthorized }: { access: Access, onUnauthorized?: () => void }) {
  const [events, setEvents] = useState<CloudEvent[]>([])
  const [state, setState] = useState<FeedState>('connecting')

  useEffect(() => openFeed({
    onEvent: (event) => setEvents((current) => [event, ...current].slice(0, KEEP)),
    onState: (next) => {
      setState(next)
      if (next === 'unauthorized') onUnauthorized?.()
    }
  }), [])

  return (
    <>
      <hgroup>
        <h1 tabIndex={-1}>Live feed</h1>
        <p>Identity events from the event stream, as they are recorded.</p>
      </hgroup>
      <p role="status" data-state={state} data-testid="feed-state" aria-busy={state === 'connecting' || state === 'reconnecting'}>{STATE_TEXT[state]}</p>
      {state === 'forbidden' ? <Notice kind="error">{STATE_TEXT.forbidden}</Notice> : null}
      {events.length === 0 ? <p><em>No events yet since this page opened.</em></p> : null}
      <ol class="feed" aria-label="Events, newest first" aria-live="polite" aria-relevant="additions">
        {events.map((event) => {
          const userId = event.subject.startsWith('users/') ? event.subject.slice('users/'.length) : null
          return (
            <li key={event.id} data-type={event.type}>
              <strong>{shortType(event.type)}</strong>{' '}
              <small><time dateTime={event.time}>{formatTime(event.time)}</time> · position {event.position}</small>
              <div>
                Subject: {userId !== null && access.read ? <a href={href(`/users/${userId}`)}>{event.subject}</a> : <span class="mono">{event.subject}</span>}
                {typeof event.data.username === 'string' ? <> · {event.data.username}</> : null}
              </div>
              {event.correlationid === undefined ? null : <div><small>Correlation id <span class="mono">{event.correlationid}</span></small></div>}
            </li>
          )
        })}
      </ol>
    </>
  )
}
