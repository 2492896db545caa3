/**
 * One user: profile (edited with If-Match, so an edit never overwrites someone else's newer
 * change unseen), status, roles, companies and providers, and an admin password reset. An auditor
 * sees the same page read-only: the write controls are not rendered at all. The sessions panel
 * lists the user's sessions; identity-admin may end one or all of them.
 */
import { useEffect, useState } from 'preact/hooks'
import { ApiError, call, describe, get } from '../api'
import { Chips } from '../components/Chips'
import { Notice } from '../components/Notice'
import { useCatalog } from '../hooks'
import { formatTime, fullName, type Access, type User } from '../model'
import { href } from '../router'
import { ProfileForm } from './ProfileForm'
import { PasswordReset } from './PasswordReset'
import { SessionsPanel } from './Sessions'

type Message = { kind: 'ok' | 'error' | 'info', text: string } | null

export function UserDetail ({ id, access, onOwnSessionEnded }: { id: string, access: Access, onOwnSessionEnded: (notice: string) => void }) {
  const [user, setUser] = useState<User | null>(null)
  const [etag, setEtag] = useState<string | null>(null)
  const [loadError, setLoadError] = useState<string | null>(null)
  const [message, setMessage] = useState<Message>(null)
  const [busy, setBusy] = useState(false)
  const [chipError, setChipError] = useState<Record<string, string>>({})
  const roles = useCatalog('roles')
  const companies = useCatalog('companies')
  const providers = useCatalog('providers')
  const idTypes = useCatalog('identification-types')

  async function reload (): Promise<void> {
    try {
      const { data, etag: tag } = await get<User>(`/v1/users/${encodeURIComponent(id)}`)
      setUser(data)
      setEtag(tag)
    } catch (error) {
      setLoadError(error instanceof ApiError && (error.status === 404 || error.status === 400) ? 'No such user.' : describe(error))
    }
  }
  useEffect(() => { void reload() }, [id])

  /** Runs a write; a returned user replaces the shown one, otherwise the user is read again. */
  async function write (action: () => Promise<User | null>, done: string, field?: string): Promise<boolean> {
    setBusy(true)
    setMessage(null)
    setChipError({})
    try {
      const updated = await action()
      if (updated === null) await reload()
      else setUser(updated)
      setMessage({ kind: 'ok', text: done })
      return true
    } catch (error) {
      if (field !== undefined && error instanceof ApiError && error.status === 422) setChipError({ [field]: error.problem.detail })
      else setMessage({ kind: 'error', text: describe(error) })
      await reload()
      return false
    } finally {
      setBusy(false)
    }
  }

  if (loadError !== null) return <><h1 tabIndex={-1}>User</h1><Notice kind="error">{loadError}</Notice><p><a href={href('/users')}>Back to users</a></p></>
  if (user === null) return <><h1 tabIndex={-1}>User</h1><p aria-busy="true">Loading…</p></>

  const base = `/v1/users/${encodeURIComponent(user.id)}`
  const withUser = (method: string, path: string, body?: unknown) => async () =>
    (await call<User | null>(method, path, body === undefined ? {} : { body })).data
  const nextStatus = user.status === 'active' ? 'inactive' : 'active'

  return (
    <>
      <hgroup>
        <h1 tabIndex={-1}>{user.username}</h1>
        <p>{fullName(user)} · <span class={`status-${user.status}`} data-testid="user-status">{user.status}</span> · version {user.version}</p>
      </hgroup>
      <div class="actions">
        <a href={href(`/users/${user.id}/history`)} class="button-link secondary">History</a>
        {access.manage
          ? (
            <button type="button" class={nextStatus === 'inactive' ? 'contrast' : ''} disabled={busy}
              onClick={() => void write(withUser('PUT', `${base}/status`, { status: nextStatus }), nextStatus === 'inactive' ? 'User deactivated.' : 'User activated.')}>
              {nextStatus === 'inactive' ? 'Deactivate user' : user.status === 'locked' ? 'Unlock and activate user' : 'Activate user'}
            </button>
            )
          : null}
      </div>
      <div aria-live="polite">{message === null ? null : <Notice kind={message.kind}>{message.text}</Notice>}</div>

      <section aria-labelledby="profile-heading">
        <h2 id="profile-heading">Profile</h2>
        {access.manage
          ? <ProfileForm user={user} etag={etag} idTypes={idTypes} onSaved={(saved, tag) => { setUser(saved); setEtag(tag) }} onStale={reload} />
          : <ProfileView user={user} />}
      </section>

      <section aria-labelledby="roles-heading">
        <h2 id="roles-heading">Roles</h2>
        <Chips noun="role" name="role" chips={user.roles.map((role) => ({ id: role, label: role }))} catalog={roles} editable={access.manage} busy={busy} error={chipError.role}
          onAdd={(roleId) => void write(withUser('POST', `${base}/roles`, { roleId }), `Role ${roleId} assigned.`, 'role')}
          onRemove={(roleId) => void write(withUser('DELETE', `${base}/roles/${encodeURIComponent(roleId)}`), `Role ${roleId} removed.`, 'role')} />
      </section>

      <section aria-labelledby="companies-heading">
        <h2 id="companies-heading">Companies</h2>
        <Chips noun="company" name="company" chips={user.companies.map((company) => ({ id: company, label: company }))} catalog={companies} editable={access.manage} busy={busy} error={chipError.company}
          onAdd={(companyId) => void write(withUser('POST', `${base}/companies`, { companyId }), `Company ${companyId} linked.`, 'company')}
          onRemove={(companyId) => void write(withUser('DELETE', `${base}/companies/${encodeURIComponent(companyId)}`), `Company ${companyId} unlinked.`, 'company')} />
      </section>

      <section aria-labelledby="providers-heading">
        <h2 id="providers-heading">Providers</h2>
        <Chips noun="provider" name="provider" extraLabel="External user id (optional)" catalog={providers} editable={access.manage} busy={busy} error={chipError.provider}
          chips={user.providers.map((link) => ({ id: link.providerId, label: link.externalUserId === null ? link.providerId : `${link.providerId}: ${link.externalUserId}` }))}
          onAdd={(providerId, externalUserId) => void write(withUser('POST', `${base}/providers`, externalUserId === '' ? { providerId } : { providerId, externalUserId }), `Provider ${providerId} linked.`, 'provider')}
          onRemove={(providerId) => void write(withUser('DELETE', `${base}/providers/${encodeURIComponent(providerId)}`), `Provider ${providerId} unlinked.`, 'provider')} />
      </section>

      <SessionsPanel userId={user.id} canEnd={access.manage} onOwnSessionEnded={onOwnSessionEnded} clientNames={access.read} />

      {access.manage ? <PasswordReset user={user} /> : null}
      <p><small>Created {formatTime(user.createdAt)} · updated {formatTime(user.updatedAt)} · id <span class="mono">{user.id}</span></small></p>
    </>
  )
}

export function ProfileView ({ user }: { user: User }) {
  return (
    <div class="user-card">
      <dl>
        <dt>Username</dt><dd>{user.username}</dd>
        <dt>Email</dt><dd>{user.email}</dd>
        <dt>First name</dt><dd>{user.firstName}</dd>
        <dt>Last name</dt><dd>{user.lastName}</dd>
        <dt>Identification</dt><dd>{user.identificationType} {user.identificationNumber}</dd>
        <dt>Phone</dt><dd>{user.phone ?? '—'}</dd>
      </dl>
    </div>
  )
}
