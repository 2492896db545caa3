/**
 * Every signed-in user's own page: the profile as the service holds it (read-only: only an
 * administrator edits profiles) and the change-password form, which needs the current password.
 * A changed password ends every session of the user, this one included. The sessions panel lists
 * the user's own sessions (this browser's marked), and ends one or all of them.
 */
import { useState } from 'preact/hooks'
import { call } from '../api'
import { TextField } from '../components/Field'
import { Notice } from '../components/Notice'
import { formFailure, type FieldErrors } from '../forms'
import type { User } from '../model'
import { SessionsPanel } from './Sessions'
import { ProfileView } from './UserDetail'

export function MyProfile ({ me, onPasswordChanged, onOwnSessionEnded }: { me: User, onPasswordChanged: () => void, onOwnSessionEnded: (notice: string) => void }) {
  return (
    <>
      <hgroup>
        <h1 tabIndex={-1}>My profile</h1>
        <p>{me.username} · <span class={`status-${me.status}`}>{me.status}</span></p>
      </hgroup>
      <section aria-labelledby="my-details">
        <h2 id="my-details">Details</h2>
        <ProfileView user={me} />
        <p>Roles: {me.roles.length === 0 ? <em>none</em> : me.roles.join(', ')}</p>
        {me.companies.length === 0 ? null : <p>Companies: {me.companies.join(', ')}</p>}
        <p><small>To change these details, ask an identity administrator.</small></p>
      </section>
      <SessionsPanel userId={me.id} canEnd onOwnSessionEnded={onOwnSessionEnded} />
      <ChangePassword me={me} onChanged={onPasswordChanged} />
    </>
  )
}

function ChangePassword ({ me, onChanged }: { me: User, onChanged: () => void }) {
  const [current, setCurrent] = useState('')
  const [next, setNext] = useState('')
  const [confirm, setConfirm] = useState('')
  const [errors, setErrors] = useState<FieldErrors>({})
  const [general, setGeneral] = useState<string | null>(null)
  const [busy, setBusy] = useState(false)

  async function submit (event: Event): Promise<void> {
    event.preventDefault()
    setErrors({})
    setGeneral(null)
    if (next !== confirm) {
      setErrors({ confirmPassword: 'The two new passwords differ.' })
      return
    }
    setBusy(true)
    try {
      await call('PUT', `/v1/users/${encodeURIComponent(me.id)}/password`, { body: { currentPassword: current, newPassword: next } })
      onChanged()
    } catch (error) {
      const failure = formFailure(error, ['currentPassword', 'newPassword'], { password: 'newPassword' })
      setErrors(failure.fields)
      setGeneral(failure.general)
    } finally {
      setBusy(false)
    }
  }

  return (
    <section aria-labelledby="change-password">
      <h2 id="change-password">Change password</h2>
      {general === null ? null : <Notice kind="error">{general}</Notice>}
      <form onSubmit={(event) => void submit(event)} aria-label="Change password" noValidate>
        <TextField name="currentPassword" label="Current password" type="password" value={current} onValue={setCurrent} error={errors.currentPassword} required autoComplete="current-password" />
        <TextField name="newPassword" label="New password" type="password" value={next} onValue={setNext} error={errors.newPassword} hint="At least 15 characters; a passphrase of several words works well." required autoComplete="new-password" />
        <TextField name="confirmPassword" label="New password again" type="password" value={confirm} onValue={setConfirm} error={errors.confirmPassword} required autoComplete="new-password" />
        <button type="submit" disabled={busy} aria-busy={busy}>Change password</button>
      </form>
    </section>
  )
}
