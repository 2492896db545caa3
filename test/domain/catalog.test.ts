import t from 'tap'
import { catalogDecider, catalogStream, type CatalogCommand, type CatalogKind } from '../../src/domain/catalog.js'
import type { CatalogEvent } from '../../src/domain/events.js'
import { specification } from './given-when-then.js'

const catalog = specification(catalogDecider)

const update = (kind: CatalogKind, id: string, data: Partial<Extract<CatalogCommand, { type: 'UpdateCatalogEntry' }>['data']>): CatalogCommand =>
  ({ type: 'UpdateCatalogEntry', data: { kind, id, name: '', status: 'active', ...data } })

const dispatcherDefined: CatalogEvent = { type: 'RoleDefined', data: { id: 'dispatcher', name: 'Dispatcher', description: 'Plans routes', system: false } }
const adminDefined: CatalogEvent = { type: 'RoleDefined', data: { id: 'identity-admin', name: 'Identity administrator', description: 'May do everything', system: true } }
const acmeDefined: CatalogEvent = { type: 'CompanyDefined', data: { id: 'acme', name: 'ACME', identificationType: 'NIT', identificationNumber: '900123456-7' } }
const carrierDefined: CatalogEvent = { type: 'ProviderDefined', data: { id: 'carrier-x', name: 'Carrier X', identificationType: null, identificationNumber: null } }
const ccDefined: CatalogEvent = { type: 'IdentificationTypeDefined', data: { id: 'CC', name: 'Cédula de ciudadanía' } }

t.test('DefineCatalogEntry', async t => {
  t.test('a role without a description carries an empty one and is not a system role', async t => {
    catalog(t).given([]).when({ type: 'DefineCatalogEntry', data: { kind: 'role', id: 'dispatcher', name: 'Dispatcher' } })
      .then([{ type: 'RoleDefined', data: { id: 'dispatcher', name: 'Dispatcher', description: '', system: false } }])
  })

  t.test('a system role with a description', async t => {
    catalog(t).given([]).when({ type: 'DefineCatalogEntry', data: { kind: 'role', id: 'identity-admin', name: 'Identity administrator', description: 'May do everything', system: true } })
      .then([adminDefined])
  })

  t.test('a company with its identification', async t => {
    catalog(t).given([]).when({ type: 'DefineCatalogEntry', data: { kind: 'company', id: 'acme', name: 'ACME', identificationType: 'NIT', identificationNumber: '900123456-7' } })
      .then([acmeDefined])
  })

  t.test('a provider without identification carries nulls, and fields of other kinds are ignored', async t => {
    catalog(t).given([]).when({ type: 'DefineCatalogEntry', data: { kind: 'provider', id: 'carrier-x', name: 'Carrier X', description: 'ignored', system: true } })
      .then([carrierDefined])
  })

  t.test('an identification type has only a name', async t => {
    catalog(t).given([]).when({ type: 'DefineCatalogEntry', data: { kind: 'identificationType', id: 'CC', name: 'Cédula de ciudadanía', identificationNumber: 'ignored' } })
      .then([ccDefined])
  })

  t.test('an id already defined is CATALOG_ENTRY_EXISTS', async t => {
    catalog(t).given([acmeDefined]).when({ type: 'DefineCatalogEntry', data: { kind: 'company', id: 'acme', name: 'Other' } })
      .thenThrows('CATALOG_ENTRY_EXISTS', { kind: 'company', id: 'acme' })
  })

  t.test('a defined entry folds to an active state', async t => {
    catalog(t).given([acmeDefined]).thenState({
      status: 'active', kind: 'company', id: 'acme', name: 'ACME', description: null,
      identificationType: 'NIT', identificationNumber: '900123456-7', system: false
    })
  })
})

t.test('UpdateCatalogEntry', async t => {
  t.test('a missing entry is CATALOG_ENTRY_NOT_FOUND', async t => {
    catalog(t).given([]).when(update('role', 'pilot', { name: 'Pilot' })).thenThrows('CATALOG_ENTRY_NOT_FOUND', { kind: 'role', id: 'pilot' })
  })

  t.test('a role\'s new name and description emit RoleUpdated', async t => {
    const state = catalog(t).given([dispatcherDefined]).when(update('role', 'dispatcher', { name: 'Dispatch planner', description: 'Plans routes' }))
      .then([{ type: 'RoleUpdated', data: { id: 'dispatcher', name: 'Dispatch planner', description: 'Plans routes' } }])
    t.match(state, { name: 'Dispatch planner', status: 'active' })
  })

  t.test('the same fields and status emit nothing', async t => {
    catalog(t).given([dispatcherDefined]).when(update('role', 'dispatcher', { name: 'Dispatcher', description: 'Plans routes' })).thenNothing()
  })

  t.test('a missing, null or empty role description are the same', async t => {
    const noDescription: CatalogEvent = { type: 'RoleDefined', data: { id: 'dispatcher', name: 'Dispatcher', description: '', system: false } }
    catalog(t).given([noDescription]).when(update('role', 'dispatcher', { name: 'Dispatcher' })).thenNothing()
    catalog(t).given([noDescription]).when(update('role', 'dispatcher', { name: 'Dispatcher', description: null })).thenNothing()
  })

  t.test('a company\'s identification change emits CompanyUpdated', async t => {
    catalog(t).given([acmeDefined]).when(update('company', 'acme', { name: 'ACME', identificationType: null, identificationNumber: null }))
      .then([{ type: 'CompanyUpdated', data: { id: 'acme', name: 'ACME', identificationType: null, identificationNumber: null } }])
  })

  t.test('a description sent for a company is not a change', async t => {
    catalog(t).given([acmeDefined]).when(update('company', 'acme', { name: 'ACME', identificationType: 'NIT', identificationNumber: '900123456-7', description: 'x' }))
      .thenNothing()
  })

  t.test('a provider\'s new name emits ProviderUpdated', async t => {
    catalog(t).given([carrierDefined]).when(update('provider', 'carrier-x', { name: 'Carrier X S.A.S.' }))
      .then([{ type: 'ProviderUpdated', data: { id: 'carrier-x', name: 'Carrier X S.A.S.', identificationType: null, identificationNumber: null } }])
  })

  t.test('an identification type\'s new name emits IdentificationTypeUpdated', async t => {
    catalog(t).given([ccDefined]).when(update('identificationType', 'CC', { name: 'Cédula de Ciudadanía' }))
      .then([{ type: 'IdentificationTypeUpdated', data: { id: 'CC', name: 'Cédula de Ciudadanía' } }])
  })

  t.test('status inactive deactivates, and only that', async t => {
    const state = catalog(t).given([acmeDefined]).when(update('company', 'acme', { name: 'ACME', identificationType: 'NIT', identificationNumber: '900123456-7', status: 'inactive' }))
      .then([{ type: 'CompanyDeactivated', data: { id: 'acme' } }])
    t.match(state, { status: 'inactive' })
  })

  t.test('status active reactivates', async t => {
    const state = catalog(t).given([ccDefined, { type: 'IdentificationTypeDeactivated', data: { id: 'CC' } }])
      .when(update('identificationType', 'CC', { name: 'Cédula de ciudadanía' }))
      .then([{ type: 'IdentificationTypeActivated', data: { id: 'CC' } }])
    t.match(state, { status: 'active' })
  })

  t.test('a change and a deactivation emit the update first', async t => {
    catalog(t).given([carrierDefined]).when(update('provider', 'carrier-x', { name: 'Carrier X (closed)', status: 'inactive' }))
      .then([
        { type: 'ProviderUpdated', data: { id: 'carrier-x', name: 'Carrier X (closed)', identificationType: null, identificationNumber: null } },
        { type: 'ProviderDeactivated', data: { id: 'carrier-x' } }
      ])
  })

  t.test('roles deactivate and reactivate like any entry', async t => {
    catalog(t).given([dispatcherDefined]).when(update('role', 'dispatcher', { name: 'Dispatcher', description: 'Plans routes', status: 'inactive' }))
      .then([{ type: 'RoleDeactivated', data: { id: 'dispatcher' } }])
    catalog(t).given([dispatcherDefined, { type: 'RoleDeactivated', data: { id: 'dispatcher' } }])
      .when(update('role', 'dispatcher', { name: 'Dispatcher', description: 'Plans routes' }))
      .then([{ type: 'RoleActivated', data: { id: 'dispatcher' } }])
  })

  t.test('a system role can never be deactivated: SYSTEM_ROLE_PROTECTED', async t => {
    catalog(t).given([adminDefined]).when(update('role', 'identity-admin', { name: 'Identity administrator', description: 'May do everything', status: 'inactive' }))
      .thenThrows('SYSTEM_ROLE_PROTECTED', { id: 'identity-admin' })
  })

  t.test('a system role may be renamed and stays a system role', async t => {
    const state = catalog(t).given([adminDefined]).when(update('role', 'identity-admin', { name: 'Administrator', description: 'May do everything' }))
      .then([{ type: 'RoleUpdated', data: { id: 'identity-admin', name: 'Administrator', description: 'May do everything' } }])
    t.match(state, { system: true })
  })
})

t.test('catalogStream names each kind\'s stream', async t => {
  t.equal(catalogStream('role', 'dispatcher'), 'role-dispatcher')
  t.equal(catalogStream('company', 'acme'), 'company-acme')
  t.equal(catalogStream('provider', 'carrier-x'), 'provider-carrier-x')
  t.equal(catalogStream('identificationType', 'CC'), 'identification-type-CC')
})
