/**
 * A user's sessions (GET /v1/users/{id}/sessions): live ones first, then the recently ended ones
 * with why. Shown on the user page (identity-admin may end them, identity-auditor only reads) and
 * on "my profile" (the user ends their own). The session this browser signed in with is marked;
 * ending it, or all of them, signs this console out too, which the page then says.
 */
import { useEffect, useState } from 'preact/hooks'
import { call, describe, get, type Page } from '../api'
import { Notice } from '../components/Notice'
import { formatTime, type OAuthClient, type Session } from '../model'
import { session as consoleSession } from '../session'

const END_REASONS: Record<string, string> = {
  sign_out: 'signed out',
  deleted: 'ended from the sessions list',
  token_revoked: 'refresh token revoked',
  refresh_token_reuse: 'a used refresh token was presented again',
  authorization_code_reuse: 'an authorization code was used twice',
  user_deactivated: 'the user was deactivated',
  password_changed: 'the password was changed',
  password_reset: 'the password was reset',
  credentials_changed: 'the credentials changed',
  expired: 'expired'
}

const METHODS: Record<string, string> = { pwd: 'password', otp: 'one-time code', mfa: 'two factors', hwk: 'security key', swk: 'passkey', user: 'user presence' }

const clientLabel = (clientId: string, names: ReadonlyMap<string, string>): string =>
  clientId === 'idm-api' ? 'API sign-in (idm-api)' : names.has(clientId) ? `${names.get(clientId) ?? ''} (${clientId})` : clientId

export interface SessionsPanelProps {
  userId: string
  /** Offer "End" and "End all" (identity-admin, or the user on their own profile). */
  canEnd: boolean
  /** This console's own session was ended: sign out, saying why. */
  onOwnSessionEnded: (notice: string) => void
  /** The signed-in user may read /v1/clients (admin, auditor): show client names beside their ids. */
  clientNames?: boolean
}

export function SessionsPanel ({ userId, canEnd, onOwnSessionEnded, clientNames = false }: SessionsPanelProps) {
  const [sessions, setSessions] = useState<Session[] | null>(null)
  const [names, setNames] = useState<ReadonlyMap<string, string>>(new Map())
  const [message, setMessage] = useState<{ kind: 'ok' | 'error', text: string } | null>(null)
  const [busy, setBusy] = useState(false)
  const [confirming, setConfirming] = useState(false)
  const current = consoleSession.sessionId()
  const base = `/v1/users/${encodeURIComponent(userId)}/sessions`

  async function load (): Promise<void> {
    try {
      setSessions((await get<Page<Session>>(base)).data.items)
    } catch (error) {
      setMessage({ kind: 'error', text: describe(error) })
    }
  }
  useEffect(() => { void load() }, [userId])
  useEffect(() => {
    if (!clientNames) return
    let live = true
    // Names are a courtesy: without them the ids are shown, so a failure here is not reported.
    get<Page<OAuthClient>>('/v1/clients').then(({ data }) => {
      if (live) setNames(new Map(data.items.map((c) => [c.clientId, c.name])))
    }, () => {})
    return () => { live = false }
  }, [clientNames])

  async function end (path: string, endsOwn: boolean, done: string): Promise<void> {
    setBusy(true)
    setMessage(null)
    try {
      await call('DELETE', path)
      if (endsOwn) {
        onOwnSessionEnded('You ended the session this browser was signed in with. Sign in again to continue.')
        return
      }
      setMessage({ kind: 'ok', text: done })
      await load()
    } catch (error) {
      setMessage({ kind: 'error', text: describe(error) })
    } finally {
      setBusy(false)
      setConfirming(false)
    }
  }

  const live = (sessions ?? []).filter((s) => s.status === 'active')
  return (
    <section aria-labelledby="sessions-heading" data-testid="sessions">
      <h2 id="sessions-heading">Sessions</h2>
      <div aria-live="polite">{message === null ? null : <Notice kind={message.kind}>{message.text}</Notice>}</div>
      {sessions === null
        ? <p aria-busy="true">Loading sessions…</p>
        : (
          <>
            <p>{live.length === 0 ? 'No live session.' : `${live.length} live ${live.length === 1 ? 'session' : 'sessions'}.`}{sessions.length > live.length ? ` ${sessions.length - live.length} recently ended.` : ''}</p>
            {sessions.length === 0
              ? null
              : (
                <div class="table-wrap">
                  <table class="striped sessions">
                    <caption class="visually-hidden">Sessions, live ones first</caption>
                    <thead>
                      <tr>
                        <th scope="col">Started</th>
                        <th scope="col">Last used</th>
                        <th scope="col">Client</th>
                        <th scope="col">Methods</th>
                        <th scope="col">Address</th>
                        <th scope="col">User agent</th>
                        <th scope="col">Status</th>
                        {canEnd ? <th scope="col">Actions</th> : null}
                      </tr>
                    </thead>
                    <tbody>
                      {sessions.map((s) => {
                        const mine = s.id === current
                        return (
                          <tr key={s.id} data-session={s.id} data-current={mine ? 'true' : undefined}>
                            <td>{formatTime(s.startedAt)}{mine ? <><br /><strong class="current-session">This browser</strong></> : null}</td>
                            <td>{formatTime(s.lastRefreshedAt ?? s.startedAt)}</td>
                            <td class="mono">{clientLabel(s.clientId, names)}</td>
                            <td>{s.amr.map((m) => METHODS[m] ?? m).join(', ')}</td>
                            <td class="mono">{s.clientAddress ?? '—'}</td>
                            <td><small>{s.userAgent ?? '—'}</small></td>
                            <td>
                              {s.status === 'active'
                                ? <span class="status-active">live</span>
                                : <><span class="status-inactive">ended</span>{s.endedAt === null ? null : <> {formatTime(s.endedAt)}</>}<br /><small>{END_REASONS[s.endReason ?? ''] ?? s.endReason}</small></>}
                            </td>
                            {canEnd
                              ? (
                                <td>
                                  {s.status === 'active'
                                    ? <button type="button" class="secondary outline" disabled={busy} aria-label={mine ? 'End this browser\'s session' : `End the session started ${formatTime(s.startedAt)}`}
                                        onClick={() => void end(`${base}/${encodeURIComponent(s.id)}`, mine, 'Session ended.')}>End</button>
                                    : null}
                                </td>
                                )
                              : null}
                          </tr>
                        )
                      })}
                    </tbody>
                  </table>
                </div>
                )}
            {canEnd && live.length > 0
              ? confirming
                ? (
                  <div class="actions" role="group" aria-label="Confirm ending every session">
                    <span>End all {live.length} live {live.length === 1 ? 'session' : 'sessions'}{live.some((s) => s.id === current) ? ', this browser\'s included' : ''}?</span>
                    <button type="button" class="contrast" disabled={busy} onClick={() => void end(base, live.some((s) => s.id === current), 'Every session ended.')}>Yes, end all sessions</button>
                    <button type="button" class="secondary" disabled={busy} onClick={() => setConfirming(false)}>Cancel</button>
                  </div>
                  )
                : <div class="actions"><button type="button" class="secondary" disabled={busy} onClick={() => setConfirming(true)}>End all sessions</button></div>
              : null}
          </>
          )}
    </section>
  )
}
