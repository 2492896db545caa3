/**
 * The create-user form. Nothing is validated here that the server validates better: the
 * server's messages (schema errors by JSON Pointer, taken values, password policy) are shown
 * beside the fields they concern, and the first invalid field gets the focus.
 */
import { useEffect, useRef, useState } from 'preact/hooks'
import { call } from '../api'
import { SelectField, TextField } from '../components/Field'
import { Notice } from '../components/Notice'
import { formFailure, type FieldErrors } from '../forms'
import { options, useCatalog } from '../hooks'
import type { User } from '../model'
import { href, navigate } from '../router'

const FIELDS = ['username', 'email', 'firstName', 'lastName', 'identificationType', 'identificationNumber', 'phone', 'password'] as const
type Draft = Record<(typeof FIELDS)[number], string>

const EMPTY: Draft = { username: '', email: '', firstName: '', lastName: '', identificationType: '', identificationNumber: '', phone: '', password: '' }

export function UserCreate () {
  const [draft, setDraft] = useState<Draft>(EMPTY)
  const [errors, setErrors] = useState<FieldErrors>({})
  const [general, setGeneral] = useState<string | null>(null)
  const [busy, setBusy] = useState(false)
  const form = useRef<HTMLFormElement>(null)
  const idTypes = useCatalog('identification-types')
  const set = (key: keyof Draft) => (value: string) => setDraft((current) => ({ ...current, [key]: value }))

  useEffect(() => {
    const first = FIELDS.find((field) => errors[field] !== undefined)
    if (first !== undefined) form.current?.querySelector<HTMLElement>(`[name="${first}"]`)?.focus()
  }, [errors])

  async function submit (event: Event): Promise<void> {
    event.preventDefault()
    setBusy(true)
    setErrors({})
    setGeneral(null)
    const { phone, ...rest } = draft
    const body = phone.trim() === '' ? rest : { ...rest, phone: phone.trim() }
    try {
      const { data } = await call<User>('POST', '/v1/users', { body })
      navigate(`/users/${data.id}`)
    } catch (error) {
      const failure = formFailure(error, FIELDS)
      setErrors(failure.fields)
      setGeneral(failure.general)
    } finally {
      setBusy(false)
    }
  }

  return (
    <>
      <h1 tabIndex={-1}>Create user</h1>
      <p><a href={href('/users')}>Back to users</a></p>
      {general === null ? null : <Notice kind="error">{general}</Notice>}
      {Object.keys(errors).length > 0 ? <Notice kind="error">The user was not created: see the messages beside the fields.</Notice> : null}
      <form ref={form} onSubmit={(event) => void submit(event)} aria-label="Create user" noValidate>
        <TextField name="username" label="Username" value={draft.username} onValue={set('username')} error={errors.username} hint="3–64 letters, digits, . _ - or @; stored in lower case." required autoComplete="off" autoCapitalize="none" spellcheck={false} />
        <TextField name="email" label="Email" type="email" value={draft.email} onValue={set('email')} error={errors.email} required autoComplete="off" />
        <div class="grid">
          <TextField name="firstName" label="First name" value={draft.firstName} onValue={set('firstName')} error={errors.firstName} required autoComplete="off" />
          <TextField name="lastName" label="Last name" value={draft.lastName} onValue={set('lastName')} error={errors.lastName} required autoComplete="off" />
        </div>
        <div class="grid">
          <SelectField name="identificationType" label="Identification type" value={draft.identificationType} onValue={set('identificationType')} options={options(idTypes)} empty="Choose a type…" error={errors.identificationType} required />
          <TextField name="identificationNumber" label="Identification number" value={draft.identificationNumber} onValue={set('identificationNumber')} error={errors.identificationNumber} required autoComplete="off" />
        </div>
        <TextField name="phone" label="Phone (E.164, optional)" type="tel" value={draft.phone} onValue={set('phone')} error={errors.phone} placeholder="+573001234567" autoComplete="off" />
        <TextField name="password" label="Initial password" type="password" value={draft.password} onValue={set('password')} error={errors.password} hint="At least 15 characters; common passwords and the username are refused." required autoComplete="new-password" />
        <button type="submit" disabled={busy} aria-busy={busy}>Create user</button>
      </form>
    </>
  )
}
