/**
 * Users, filtered by q (prefix of username, email or names), status, role, company and provider,
 * one page at a time with the API's keyset cursor: each page is one indexed query however many
 * users there are, so the list stays fast at 100,000 users and more. Filters live in the URL
 * (shareable, and back/forward work); the cursors of the pages already seen are kept so
 * "Previous" goes back without a reverse query.
 */
import { useEffect, useState } from 'preact/hooks'
import { describe, get, query, type Page } from '../api'
import { SelectField, TextField } from '../components/Field'
import { Notice } from '../components/Notice'
import { options, useCatalog, useDebounced } from '../hooks'
import { fullName, type Access, type User } from '../model'
import { href, navigate, useLocation } from '../router'

const PAGE_SIZE = 25
const FILTERS = ['q', 'status', 'role', 'companyId', 'providerId'] as const
type Filters = Record<(typeof FILTERS)[number], string>

const STATUSES = [{ value: 'active', label: 'Active' }, { value: 'inactive', label: 'Inactive' }, { value: 'locked', label: 'Locked' }]

export function UsersList ({ access }: { access: Access }) {
  const location = useLocation()
  const fromUrl = (): Filters => Object.fromEntries(FILTERS.map((key) => [key, location.search.get(key) ?? ''])) as Filters
  const [filters, setFilters] = useState<Filters>(fromUrl)
  const q = useDebounced(filters.q.trim(), 300)
  const applied: Filters = { ...filters, q }
  const appliedKey = JSON.stringify(applied)

  // cursors[i] is the cursor that opens page i (null for the first).
  const [cursors, setCursors] = useState<(string | null)[]>([null])
  const [page, setPage] = useState<Page<User> | null>(null)
  const [error, setError] = useState<string | null>(null)
  const [busy, setBusy] = useState(false)
  const roles = useCatalog('roles')
  const companies = useCatalog('companies')
  const providers = useCatalog('providers')

  useEffect(() => {
    navigate(`/users${query(applied)}`, { replace: true })
    setCursors([null])
  }, [appliedKey])

  const cursor = cursors[cursors.length - 1] ?? null
  useEffect(() => {
    const controller = new AbortController()
    setBusy(true)
    setError(null)
    get<Page<User>>(`/v1/users${query({ ...applied, limit: PAGE_SIZE, cursor })}`, controller.signal)
      .then(({ data }) => setPage(data), (err: unknown) => { if (!controller.signal.aborted) setError(describe(err)) })
      .finally(() => { if (!controller.signal.aborted) setBusy(false) })
    return () => controller.abort()
  }, [appliedKey, cursor])

  const set = (key: keyof Filters) => (value: string) => setFilters((current) => ({ ...current, [key]: value }))
  const pageNumber = cursors.length
  const count = page?.items.length ?? 0

  return (
    <>
      <hgroup>
        <h1 tabIndex={-1}>Users</h1>
        <p>Search and filter; every filter narrows the list further.</p>
      </hgroup>
      {access.manage ? <p><a href={href('/users/new')} class="button-link">Create user</a></p> : null}
      <form class="filters" role="search" aria-label="Filter users" onSubmit={(event) => event.preventDefault()}>
        <TextField name="q" label="Search" type="search" value={filters.q} onValue={set('q')} placeholder="username, email or name" autoComplete="off" />
        <SelectField name="status" label="Status" value={filters.status} onValue={set('status')} options={STATUSES} empty="Any status" />
        <SelectField name="role" label="Role" value={filters.role} onValue={set('role')} options={options(roles, false)} empty="Any role" />
        <SelectField name="companyId" label="Company" value={filters.companyId} onValue={set('companyId')} options={options(companies, false)} empty="Any company" />
        <SelectField name="providerId" label="Provider" value={filters.providerId} onValue={set('providerId')} options={options(providers, false)} empty="Any provider" />
      </form>
      {error === null ? null : <Notice kind="error">{error}</Notice>}
      <p role="status" aria-live="polite" aria-busy={busy}>
        {page === null ? 'Loading users…' : count === 0 ? 'No users match these filters.' : `Page ${pageNumber}: ${count} user${count === 1 ? '' : 's'}${page.nextCursor === null ? '' : ', more on the next page'}.`}
      </p>
      {page !== null && count > 0
        ? (
          <div class="table-wrap">
            <table class="users striped">
              <caption class="visually-hidden">Users, sorted by username</caption>
              <thead>
                <tr>
                  <th scope="col">Username</th>
                  <th scope="col">Name</th>
                  <th scope="col" class="optional">Email</th>
                  <th scope="col">Status</th>
                  <th scope="col" class="optional">Roles</th>
                  <th scope="col" class="optional">Companies</th>
                </tr>
              </thead>
              <tbody>
                {page.items.map((user) => (
                  <tr key={user.id}>
                    <td><a href={href(`/users/${user.id}`)}>{user.username}</a></td>
                    <td>{fullName(user)}</td>
                    <td class="optional">{user.email}</td>
                    <td><span class={`status-${user.status}`}>{user.status}</span></td>
                    <td class="optional">{user.roles.join(', ')}</td>
                    <td class="optional">{user.companies.join(', ')}</td>
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
          )
        : null}
      <nav class="pager" aria-label="Pages">
        <button type="button" class="secondary" disabled={cursors.length <= 1 || busy} onClick={() => setCursors((list) => list.slice(0, -1))}>Previous page</button>
        <button type="button" class="secondary" disabled={page?.nextCursor == null || busy} onClick={() => { const next = page?.nextCursor; if (next != null) setCursors((list) => [...list, next]) }}>Next page</button>
      </nav>
    </>
  )
}
