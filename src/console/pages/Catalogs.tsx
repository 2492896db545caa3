/**
 * The four catalogs: list, and for identity-admin add, rename and (de)activate. Ids are chosen
 * by the client and never change (lower-case slugs; upper-case codes for identification types).
 * System roles cannot be deactivated, so they are not offered the button.
 */
import { useEffect, useState } from 'preact/hooks'
import { call, describe, get, type Page } from '../api'
import { CATALOGS, forgetCatalog, type CatalogKind } from '../catalogs'
import { TextField } from '../components/Field'
import { Notice } from '../components/Notice'
import { formFailure, type FieldErrors } from '../forms'
import type { Access, CatalogEntry } from '../model'
import { href } from '../router'

export function Catalogs ({ kind, access }: { kind: string | null, access: Access }) {
  const spec = CATALOGS.find((c) => c.kind === kind) ?? CATALOGS[0]!
  return (
    <>
      <h1 tabIndex={-1}>Catalogs: {spec.title}</h1>
      <nav aria-label="Catalogs">
        <ul>
          {CATALOGS.map((c) => <li key={c.kind}><a href={href(`/catalogs/${c.kind}`)} aria-current={c.kind === spec.kind ? 'page' : undefined}>{c.title}</a></li>)}
        </ul>
      </nav>
      <CatalogTable key={spec.kind} kind={spec.kind} singular={spec.singular} access={access} />
    </>
  )
}

function CatalogTable ({ kind, singular, access }: { kind: CatalogKind, singular: string, access: Access }) {
  const [entries, setEntries] = useState<CatalogEntry[]>([])
  const [next, setNext] = useState<string | null>(null)
  const [message, setMessage] = useState<{ kind: 'ok' | 'error', text: string } | null>(null)
  const [busy, setBusy] = useState(true)
  const [editing, setEditing] = useState<string | null>(null)

  async function load (cursor: string | null): Promise<void> {
    setBusy(true)
    try {
      const { data } = await get<Page<CatalogEntry>>(`/v1/${kind}?limit=100${cursor === null ? '' : `&cursor=${encodeURIComponent(cursor)}`}`)
      setEntries((current) => cursor === null ? data.items : [...current, ...data.items])
      setNext(data.nextCursor)
    } catch (error) {
      setMessage({ kind: 'error', text: describe(error) })
    } finally {
      setBusy(false)
    }
  }
  useEffect(() => { void load(null) }, [kind])

  /** PUT replaces every mutable field, so the ones this page does not edit are sent back as they are. */
  async function replace (entry: CatalogEntry, change: Partial<CatalogEntry>, done: string): Promise<string | null> {
    const { id: _id, system: _system, createdAt: _c, updatedAt: _u, version: _v, ...mutable } = entry as CatalogEntry & { createdAt?: string, updatedAt?: string, version?: number }
    setMessage(null)
    try {
      const { data } = await call<CatalogEntry>('PUT', `/v1/${kind}/${encodeURIComponent(entry.id)}`, { body: { ...mutable, ...change } })
      setEntries((current) => current.map((e) => e.id === data.id ? data : e))
      forgetCatalog(kind)
      setMessage({ kind: 'ok', text: done })
      return null
    } catch (error) {
      const text = describe(error)
      setMessage({ kind: 'error', text })
      return text
    }
  }

  return (
    <>
      <div aria-live="polite">{message === null ? null : <Notice kind={message.kind}>{message.text}</Notice>}</div>
      {access.manage ? <AddEntry kind={kind} singular={singular} onAdded={(entry) => { setEntries((current) => [...current, entry].sort((a, b) => a.id < b.id ? -1 : 1)); forgetCatalog(kind); setMessage({ kind: 'ok', text: `Added ${singular} ${entry.id}.` }) }} /> : null}
      <div class="table-wrap">
        <table class="striped">
          <caption class="visually-hidden">{singular} entries, sorted by id</caption>
          <thead>
            <tr>
              <th scope="col">Id</th>
              <th scope="col">Name</th>
              <th scope="col">Status</th>
              {access.manage ? <th scope="col">Actions</th> : null}
            </tr>
          </thead>
          <tbody>
            {entries.map((entry) => (
              <tr key={entry.id} data-entry={entry.id}>
                <td class="mono">{entry.id}</td>
                <td>
                  {editing === entry.id
                    ? <Rename entry={entry} onCancel={() => setEditing(null)} onSave={async (name) => { const failed = await replace(entry, { name }, `Renamed ${entry.id} to ${name}.`); if (failed === null) setEditing(null); return failed }} />
                    : <>{entry.name}{entry.description === undefined || entry.description === '' ? null : <><br /><small>{entry.description}</small></>}</>}
                </td>
                <td><span class={`status-${entry.status}`}>{entry.status}</span>{entry.system === true ? <small> (system)</small> : null}</td>
                {access.manage
                  ? (
                    <td class="actions">
                      {editing === entry.id ? null : <button type="button" class="secondary outline" onClick={() => setEditing(entry.id)} aria-label={`Rename ${entry.id}`}>Rename</button>}
                      {entry.system === true
                        ? null
                        : (
                          <button type="button" class="secondary outline" aria-label={`${entry.status === 'active' ? 'Deactivate' : 'Activate'} ${entry.id}`}
                            onClick={() => void replace(entry, { status: entry.status === 'active' ? 'inactive' : 'active' }, `${entry.id} is now ${entry.status === 'active' ? 'inactive' : 'active'}.`)}>
                            {entry.status === 'active' ? 'Deactivate' : 'Activate'}
                          </button>
                          )}
                    </td>
                    )
                  : null}
              </tr>
            ))}
          </tbody>
        </table>
      </div>
      <p role="status" aria-busy={busy}>{busy ? 'Loading…' : `${entries.length} ${entries.length === 1 ? 'entry' : 'entries'}.`}</p>
      {next === null ? null : <button type="button" class="secondary" disabled={busy} onClick={() => void load(next)}>Load more</button>}
    </>
  )
}

function Rename ({ entry, onSave, onCancel }: { entry: CatalogEntry, onSave: (name: string) => Promise<string | null>, onCancel: () => void }) {
  const [name, setName] = useState(entry.name)
  const [error, setError] = useState<string | undefined>(undefined)
  return (
    <form onSubmit={(event) => { event.preventDefault(); void onSave(name.trim()).then((failed) => setError(failed ?? undefined)) }} aria-label={`Rename ${entry.id}`}>
      <TextField name={`rename-${entry.id}`} label={`New name for ${entry.id}`} value={name} onValue={setName} error={error} required autoFocus />
      <div class="actions">
        <button type="submit">Save name</button>
        <button type="button" class="secondary" onClick={onCancel}>Cancel</button>
      </div>
    </form>
  )
}

function AddEntry ({ kind, singular, onAdded }: { kind: CatalogKind, singular: string, onAdded: (entry: CatalogEntry) => void }) {
  const [id, setId] = useState('')
  const [name, setName] = useState('')
  const [description, setDescription] = useState('')
  const [errors, setErrors] = useState<FieldErrors>({})
  const [general, setGeneral] = useState<string | null>(null)
  const [busy, setBusy] = useState(false)
  const idHint = kind === 'identification-types' ? 'Upper-case code, e.g. NIT.' : 'Lower-case letters, digits and dashes, e.g. acme-logistics. It cannot be changed later.'

  async function submit (event: Event): Promise<void> {
    event.preventDefault()
    setBusy(true)
    setErrors({})
    setGeneral(null)
    try {
      const body = kind === 'roles' && description.trim() !== '' ? { id, name, description } : { id, name }
      const { data } = await call<CatalogEntry>('POST', `/v1/${kind}`, { body })
      setId('')
      setName('')
      setDescription('')
      onAdded(data)
    } catch (error) {
      const failure = formFailure(error, ['id', 'name', 'description'])
      setErrors(failure.fields)
      setGeneral(failure.general)
    } finally {
      setBusy(false)
    }
  }

  return (
    <details>
      <summary role="button" class="secondary">Add a {singular}</summary>
      <form onSubmit={(event) => void submit(event)} aria-label={`Add a ${singular}`} noValidate>
        {general === null ? null : <Notice kind="error">{general}</Notice>}
        <div class="grid">
          <TextField name="id" label="Id" value={id} onValue={setId} error={errors.id} hint={idHint} required autoComplete="off" autoCapitalize="none" spellcheck={false} />
          <TextField name="name" label="Name" value={name} onValue={setName} error={errors.name} required autoComplete="off" />
        </div>
        {kind === 'roles' ? <TextField name="description" label="Description (optional)" value={description} onValue={setDescription} error={errors.description} autoComplete="off" /> : null}
        <button type="submit" disabled={busy} aria-busy={busy}>Add {singular}</button>
      </form>
    </details>
  )
}
