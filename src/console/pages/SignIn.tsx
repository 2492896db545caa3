/** Username and password in, access token out (POST /v1/authentication). */
import { useEffect, useRef, useState } from 'preact/hooks'
import { ApiError, call, describe } from '../api'
import { TextField } from '../components/Field'
import { Notice } from '../components/Notice'

interface TokenResponse { access_token: string, token_type: string, expires_in: number }

export function SignIn ({ notice, onSignedIn }: { notice: string | null, onSignedIn: (token: string) => void }) {
  const [username, setUsername] = useState('')
  const [password, setPassword] = useState('')
  const [error, setError] = useState<string | null>(null)
  const [busy, setBusy] = useState(false)
  const heading = useRef<HTMLHeadingElement>(null)
  useEffect(() => { heading.current?.focus() }, [])

  async function submit (event: Event): Promise<void> {
    event.preventDefault()
    setBusy(true)
    setError(null)
    try {
      const { data } = await call<TokenResponse>('POST', '/v1/authentication', { body: { username, password }, anonymous: true })
      setPassword('')
      onSignedIn(data.access_token)
    } catch (err) {
      if (err instanceof ApiError && err.status === 401) setError('The username or password is not correct, or the account is locked or inactive.')
      else if (err instanceof ApiError && err.status === 429) setError('Too many sign-in attempts. Wait a minute and try again.')
      else setError(describe(err))
    } finally {
      setBusy(false)
    }
  }

  return (
    <main class="container" id="main">
      <article>
        <h1 tabIndex={-1} ref={heading}>Sign in to the identity console</h1>
        {notice === null ? null : <Notice>{notice}</Notice>}
        {error === null ? null : <Notice kind="error">{error}</Notice>}
        <form onSubmit={(event) => void submit(event)}>
          <TextField name="username" label="Username" value={username} onValue={setUsername} autoComplete="username" required autoCapitalize="none" spellcheck={false} />
          <TextField name="password" label="Password" type="password" value={password} onValue={setPassword} autoComplete="current-password" required />
          <button type="submit" aria-busy={busy} disabled={busy}>Sign in</button>
        </form>
      </article>
    </main>
  )
}
