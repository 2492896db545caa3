/** An administrator sets another user's password (the user's tokens stop working at once). */
import { useState } from 'preact/hooks'
import { call } from '../api'
import { TextField } from '../components/Field'
import { Notice } from '../components/Notice'
import { formFailure, type FieldErrors } from '../forms'
import type { User } from '../model'

export function PasswordReset ({ user }: { user: User }) {
  const [password, setPassword] = useState('')
  const [errors, setErrors] = useState<FieldErrors>({})
  const [message, setMessage] = useState<{ kind: 'ok' | 'error', text: string } | null>(null)
  const [busy, setBusy] = useState(false)

  async function reset (event: Event): Promise<void> {
    event.preventDefault()
    setBusy(true)
    setErrors({})
    setMessage(null)
    try {
      await call('PUT', `/v1/users/${encodeURIComponent(user.id)}/password`, { body: { newPassword: password } })
      setPassword('')
      setMessage({ kind: 'ok', text: `The password of ${user.username} was reset; their sessions have ended.` })
    } catch (error) {
      const failure = formFailure(error, ['newPassword'], { password: 'newPassword' })
      setErrors(failure.fields)
      if (failure.general !== null) setMessage({ kind: 'error', text: failure.general })
    } finally {
      setBusy(false)
    }
  }

  return (
    <section aria-labelledby="reset-heading">
      <h2 id="reset-heading">Reset password</h2>
      {message === null ? null : <Notice kind={message.kind}>{message.text}</Notice>}
      <form onSubmit={(event) => void reset(event)} aria-label="Reset password">
        <TextField name="newPassword" label="New password" type="password" value={password} onValue={setPassword} error={errors.newPassword}
          hint="At least 15 characters; common passwords and the username are refused." required autoComplete="new-password" />
        <button type="submit" class="secondary" disabled={busy || password === ''} aria-busy={busy}>Reset password</button>
      </form>
    </section>
  )
}
