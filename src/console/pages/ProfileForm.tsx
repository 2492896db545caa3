/**
 * The profile edit form. It sends the ETag it was loaded with as If-Match: when someone else
 * saved in between, the API answers 412 and the form says so, shows the newer version, and
 * leaves re-applying the change to the person (never a silent overwrite).
 */
import { useEffect, useState } from 'preact/hooks'
import { ApiError, call } from '../api'
import { SelectField, TextField } from '../components/Field'
import { Notice } from '../components/Notice'
import { formFailure, type FieldErrors } from '../forms'
import { options } from '../hooks'
import type { CatalogEntry, User } from '../model'

const FIELDS = ['email', 'firstName', 'lastName', 'identificationType', 'identificationNumber', 'phone'] as const
type Profile = Record<(typeof FIELDS)[number], string>

const profileOf = (user: User): Profile => ({
  email: user.email,
  firstName: user.firstName,
  lastName: user.lastName,
  identificationType: user.identificationType,
  identificationNumber: user.identificationNumber,
  phone: user.phone ?? ''
})

export const STALE = 'Someone else changed this user after you opened it, so your change was not saved. The form now shows their version: review it and make your change again.'

interface Props {
  user: User
  etag: string | null
  idTypes: readonly CatalogEntry[]
  onSaved: (user: User, etag: string | null) => void
  onStale: () => Promise<void>
}

export function ProfileForm ({ user, etag, idTypes, onSaved, onStale }: Props) {
  const [profile, setProfile] = useState<Profile>(() => profileOf(user))
  const [errors, setErrors] = useState<FieldErrors>({})
  const [message, setMessage] = useState<{ kind: 'ok' | 'error', text: string } | null>(null)
  const [busy, setBusy] = useState(false)
  useEffect(() => { setProfile(profileOf(user)) }, [user.id, user.version])

  const set = (key: keyof Profile) => (value: string) => setProfile((current) => ({ ...current, [key]: value }))

  async function save (event: Event): Promise<void> {
    event.preventDefault()
    setBusy(true)
    setErrors({})
    setMessage(null)
    const body = { ...profile, phone: profile.phone.trim() === '' ? null : profile.phone.trim() }
    try {
      const { data, etag: tag } = await call<User>('PUT', `/v1/users/${encodeURIComponent(user.id)}`, { body, headers: etag === null ? {} : { 'if-match': etag } })
      onSaved(data, tag)
      setMessage({ kind: 'ok', text: 'Profile saved.' })
    } catch (error) {
      if (error instanceof ApiError && error.status === 412) {
        setMessage({ kind: 'error', text: STALE })
        await onStale()
      } else {
        const failure = formFailure(error, FIELDS)
        setErrors(failure.fields)
        if (failure.general !== null) setMessage({ kind: 'error', text: failure.general })
      }
    } finally {
      setBusy(false)
    }
  }

  const typeOptions = options(idTypes)
  if (!typeOptions.some((option) => option.value === profile.identificationType)) typeOptions.push({ value: profile.identificationType, label: profile.identificationType })
  return (
    <form onSubmit={(event) => void save(event)} aria-label="Edit profile" noValidate>
      {message === null ? null : <Notice kind={message.kind}>{message.text}</Notice>}
      <div class="grid">
        <TextField name="firstName" label="First name" value={profile.firstName} onValue={set('firstName')} error={errors.firstName} required autoComplete="off" />
        <TextField name="lastName" label="Last name" value={profile.lastName} onValue={set('lastName')} error={errors.lastName} required autoComplete="off" />
      </div>
      <TextField name="email" label="Email" type="email" value={profile.email} onValue={set('email')} error={errors.email} required autoComplete="off" />
      <div class="grid">
        <SelectField name="identificationType" label="Identification type" value={profile.identificationType} onValue={set('identificationType')} options={typeOptions} error={errors.identificationType} required />
        <TextField name="identificationNumber" label="Identification number" value={profile.identificationNumber} onValue={set('identificationNumber')} error={errors.identificationNumber} required autoComplete="off" />
      </div>
      <TextField name="phone" label="Phone (E.164, optional)" type="tel" value={profile.phone} onValue={set('phone')} error={errors.phone} placeholder="+573001234567" autoComplete="off" />
      <button type="submit" disabled={busy} aria-busy={busy}>Save profile</button>
    </form>
  )
}
