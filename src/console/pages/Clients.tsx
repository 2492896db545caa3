/**
 * OAuth clients (/v1/clients): the apps that sign users in and the service accounts
 * (client_credentials) that read the feed. identity-auditor reads the list; identity-admin
 * registers clients, rotates a confidential client's secret and (de)activates. A secret is in
 * the answer to its creation or rotation only (the service keeps its hash), so the page shows it
 * once, says so, and forgets it when the next action or page replaces the notice.
 */
import { useEffect, useState } from 'preact/hooks'
import { call, describe, get, type Page } from '../api'
import { SelectField, TextField } from '../components/Field'
import { Notice } from '../components/Notice'
import { formFailure, type FieldErrors } from '../forms'
import { formatTime, type Access, type OAuthClient } from '../model'

const GRANT_TYPES = [
  { value: 'authorization_code', label: 'Authorization code (sign users in; PKCE S256 required)' },
  { value: 'refresh_token', label: 'Refresh token' },
  { value: 'client_credentials', label: 'Client credentials (service account; confidential only)' }
] as const

interface Secret { clientId: string, name: string, secret: string, previousExpiresAt: string | null }

export function Clients ({ access }: { access: Access }) {
  const [clients, setClients] = useState<OAuthClient[] | null>(null)
  const [message, setMessage] = useState<{ kind: 'ok' | 'error', text: string } | null>(null)
  const [secret, setSecret] = useState<Secret | null>(null)
  const [busy, setBusy] = useState(false)

  async function load (): Promise<void> {
    try {
      setClients((await get<Page<OAuthClient>>('/v1/clients')).data.items)
    } catch (error) {
      setMessage({ kind: 'error', text: describe(error) })
    }
  }
  useEffect(() => { void load() }, [])

  async function act (action: () => Promise<void>): Promise<void> {
    setBusy(true)
    setMessage(null)
    setSecret(null)
    try {
      await action()
      await load()
    } catch (error) {
      setMessage({ kind: 'error', text: describe(error) })
    } finally {
      setBusy(false)
    }
  }

  const rotate = (client: OAuthClient) => async () => {
    const { data } = await call<{ client_id: string, client_secret: string, previousSecretExpiresAt: string }>('POST', `/v1/clients/${encodeURIComponent(client.clientId)}/secret`)
    setSecret({ clientId: data.client_id, name: client.name, secret: data.client_secret, previousExpiresAt: data.previousSecretExpiresAt })
  }

  /** PUT replaces every setting, so the ones not changed here are sent back as they are. */
  const setStatus = (client: OAuthClient, status: 'active' | 'inactive') => async () => {
    const { name, grantTypes, redirectUris, postLogoutRedirectUris, roles, thirdParty } = client
    await call('PUT', `/v1/clients/${encodeURIComponent(client.clientId)}`, { body: { name, grantTypes, redirectUris, postLogoutRedirectUris, roles, thirdParty, status } })
    setMessage({ kind: 'ok', text: status === 'inactive' ? `${client.name} deactivated: its tokens are refused from now on.` : `${client.name} activated.` })
  }

  return (
    <>
      <hgroup>
        <h1 tabIndex={-1}>OAuth clients</h1>
        <p>Apps that sign users in, and service accounts that call the API as themselves.</p>
      </hgroup>
      <div aria-live="polite">
        {message === null ? null : <Notice kind={message.kind}>{message.text}</Notice>}
        {secret === null ? null : <SecretNotice secret={secret} />}
      </div>
      {access.manage ? <CreateClient onCreated={(created) => { setMessage(null); setSecret(created); void load() }} /> : null}
      {clients === null
        ? <p aria-busy="true">Loading…</p>
        : (
          <div class="table-wrap">
            <table class="striped clients">
              <caption class="visually-hidden">OAuth clients, by name</caption>
              <thead>
                <tr>
                  <th scope="col">Name</th>
                  <th scope="col">Client id</th>
                  <th scope="col">Type</th>
                  <th scope="col">Grant types</th>
                  <th scope="col">Roles</th>
                  <th scope="col">Status</th>
                  {access.manage ? <th scope="col">Actions</th> : null}
                </tr>
              </thead>
              <tbody>
                {clients.map((client) => (
                  <tr key={client.clientId} data-client={client.clientId}>
                    <td>{client.name}{client.redirectUris.length === 0 ? null : <><br /><small class="mono">{client.redirectUris.join(' ')}</small></>}</td>
                    <td class="mono">{client.clientId}</td>
                    <td>{client.type}{client.thirdParty ? <><br /><small>third party</small></> : null}</td>
                    <td><small>{client.grantTypes.join(', ')}</small></td>
                    <td><small>{client.roles.length === 0 ? '—' : client.roles.join(', ')}</small></td>
                    <td>
                      <span class={`status-${client.status}`}>{client.status}</span>
                      {client.previousSecretExpiresAt === null ? null : <><br /><small>previous secret works until {formatTime(client.previousSecretExpiresAt)}</small></>}
                    </td>
                    {access.manage
                      ? (
                        <td class="actions">
                          {client.type === 'confidential'
                            ? <button type="button" class="secondary outline" disabled={busy} aria-label={`Rotate the secret of ${client.name}`} onClick={() => void act(rotate(client))}>Rotate secret</button>
                            : null}
                          <button type="button" class={client.status === 'active' ? 'contrast outline' : 'secondary outline'} disabled={busy}
                            aria-label={`${client.status === 'active' ? 'Deactivate' : 'Activate'} ${client.name}`}
                            onClick={() => void act(setStatus(client, client.status === 'active' ? 'inactive' : 'active'))}>
                            {client.status === 'active' ? 'Deactivate' : 'Activate'}
                          </button>
                        </td>
                        )
                      : null}
                  </tr>
                ))}
              </tbody>
            </table>
            <p>{clients.length === 0 ? 'No client registered yet.' : `${clients.length} ${clients.length === 1 ? 'client' : 'clients'}.`}</p>
          </div>
          )}
    </>
  )
}

function SecretNotice ({ secret }: { secret: Secret }) {
  return (
    <div class="notice ok" role="status" data-testid="client-secret">
      <p><strong>Client secret of {secret.name}</strong>, shown this once (the service keeps only its hash). Copy it now into the app's configuration.</p>
      <dl class="secret">
        <dt>client_id</dt><dd class="mono">{secret.clientId}</dd>
        <dt>client_secret</dt><dd class="mono" data-testid="client-secret-value">{secret.secret}</dd>
      </dl>
      {secret.previousExpiresAt === null ? null : <p><small>The previous secret keeps working until {formatTime(secret.previousExpiresAt)}, then stops.</small></p>}
    </div>
  )
}

const lines = (text: string): string[] => text.split(/[\s,]+/).map((line) => line.trim()).filter((line) => line !== '')

function CreateClient ({ onCreated }: { onCreated: (secret: Secret | null) => void }) {
  const [name, setName] = useState('')
  const [type, setType] = useState<'confidential' | 'public'>('confidential')
  const [grants, setGrants] = useState<string[]>(['client_credentials'])
  const [redirects, setRedirects] = useState('')
  const [roles, setRoles] = useState('')
  const [errors, setErrors] = useState<FieldErrors>({})
  const [general, setGeneral] = useState<string | null>(null)
  const [done, setDone] = useState<string | null>(null)
  const [busy, setBusy] = useState(false)

  async function submit (event: Event): Promise<void> {
    event.preventDefault()
    setBusy(true)
    setErrors({})
    setGeneral(null)
    setDone(null)
    try {
      const body = { name: name.trim(), type, grantTypes: grants, redirectUris: lines(redirects), roles: lines(roles) }
      const { data } = await call<OAuthClient & { client_id: string, client_secret?: string }>('POST', '/v1/clients', { body })
      setName('')
      setRedirects('')
      setRoles('')
      setDone(`Registered ${data.name} (client_id ${data.client_id}).`)
      onCreated(data.client_secret === undefined ? null : { clientId: data.client_id, name: data.name, secret: data.client_secret, previousExpiresAt: null })
    } catch (error) {
      const failure = formFailure(error, ['name', 'grantTypes', 'redirectUris', 'roles', 'type'])
      setErrors(failure.fields)
      setGeneral(failure.general)
    } finally {
      setBusy(false)
    }
  }

  const toggle = (grant: string, on: boolean): void => setGrants((current) => on ? [...current.filter((g) => g !== grant), grant] : current.filter((g) => g !== grant))
  return (
    <details>
      <summary role="button" class="secondary">Register a client</summary>
      <form onSubmit={(event) => void submit(event)} aria-label="Register a client" noValidate>
        {general === null ? null : <Notice kind="error">{general}</Notice>}
        {done === null ? null : <Notice kind="ok">{done}</Notice>}
        <div class="grid">
          <TextField name="name" label="Name" value={name} onValue={setName} error={errors.name} required autoComplete="off" />
          <SelectField name="type" label="Type" value={type} onValue={(value) => setType(value === 'public' ? 'public' : 'confidential')} error={errors.type}
            options={[{ value: 'confidential', label: 'Confidential (has a secret: servers)' }, { value: 'public', label: 'Public (no secret: browser and mobile apps)' }]} />
        </div>
        <fieldset aria-describedby={errors.grantTypes === undefined ? undefined : 'field-grantTypes-error'}>
          <legend>Grant types</legend>
          {GRANT_TYPES.map((grant) => (
            <label key={grant.value}>
              <input type="checkbox" name="grantTypes" value={grant.value} checked={grants.includes(grant.value)} onChange={(event) => toggle(grant.value, (event.currentTarget as HTMLInputElement).checked)} />
              {grant.label}
            </label>
          ))}
          {errors.grantTypes === undefined ? null : <small id="field-grantTypes-error" class="field-error">{errors.grantTypes}</small>}
        </fieldset>
        <TextField name="redirectUris" label="Redirect URIs (optional)" value={redirects} onValue={setRedirects} error={errors.redirectUris} hint="Exact https URIs, separated by spaces; needed for the authorization code grant." autoComplete="off" spellcheck={false} />
        <TextField name="roles" label="Roles (optional)" value={roles} onValue={setRoles} error={errors.roles} hint="Role ids for a service account's tokens, separated by spaces, e.g. identity-subscriber to read the event feed." autoComplete="off" spellcheck={false} />
        <button type="submit" disabled={busy} aria-busy={busy}>Register client</button>
      </form>
    </details>
  )
}
