import t from 'tap'
import { streams } from '../../src/domain/events.js'
import { catalogsProjection, getCatalogEntry, listCatalog, type CatalogKind } from '../../src/projections/catalogs.js'
import { dumpReadModel } from '../../src/projections/dump.js'
import { InvalidCursorError } from '../../src/projections/cursor.js'
import { at, harness } from './fixtures/harness.js'

t.test('the four catalogs', async t => {
  const h = await harness(t)
  const w = h.writer
  const { db } = h.readModel

  await w.append(streams.role('identity-admin'), 'RoleDefined', { id: 'identity-admin', name: 'Identity admin', description: 'Everything', system: true }, { at: at(0) })
  await w.append(streams.role('dispatcher'), 'RoleDefined', { id: 'dispatcher', name: 'Dispatcher', description: '', system: false }, { at: at(1) })
  await w.append(streams.role('dispatcher'), 'RoleUpdated', { id: 'dispatcher', name: 'Dispatch', description: 'Routes trucks' }, { at: at(2) })
  await w.append(streams.role('dispatcher'), 'RoleDeactivated', { id: 'dispatcher' }, { at: at(3) })
  await w.append(streams.company('acme'), 'CompanyDefined', { id: 'acme', name: 'ACME', identificationType: 'NIT', identificationNumber: '900-1' }, { at: at(4) })
  await w.append(streams.company('acme'), 'CompanyUpdated', { id: 'acme', name: 'ACME S.A.', identificationType: null, identificationNumber: null }, { at: at(5) })
  await w.append(streams.company('acme'), 'CompanyDeactivated', { id: 'acme' }, { at: at(6) })
  await w.append(streams.company('acme'), 'CompanyActivated', { id: 'acme' }, { at: at(7) })
  await w.append(streams.provider('carrier-x'), 'ProviderDefined', { id: 'carrier-x', name: 'Carrier X', identificationType: null, identificationNumber: null }, { at: at(8) })
  await w.append(streams.provider('carrier-x'), 'ProviderUpdated', { id: 'carrier-x', name: 'Carrier X', identificationType: 'NIT', identificationNumber: '800' }, { at: at(9) })
  await w.append(streams.provider('carrier-x'), 'ProviderDeactivated', { id: 'carrier-x' }, { at: at(10) })
  for (const [i, code] of ['CC', 'CE', 'NIT', 'PA', 'TI', 'RC', 'PEP', 'PPT'].entries()) {
    await w.append(streams.identificationType(code), 'IdentificationTypeDefined', { id: code, name: `Type ${code}` }, { at: at(20 + i) })
  }
  await w.append(streams.identificationType('PA'), 'IdentificationTypeUpdated', { id: 'PA', name: 'Pasaporte' }, { at: at(30) })
  await w.append(streams.identificationType('TI'), 'IdentificationTypeDeactivated', { id: 'TI' }, { at: at(31) })
  await w.append(streams.identificationType('TI'), 'IdentificationTypeActivated', { id: 'TI' }, { at: at(32) })
  await w.append(streams.identificationType('RC'), 'IdentificationTypeDeactivated', { id: 'RC' }, { at: at(33) })
  await h.sync()

  t.strictSame(listCatalog(db, 'role', { limit: 50 }), {
    items: [
      { id: 'dispatcher', name: 'Dispatch', description: 'Routes trucks', system: false, status: 'inactive', createdAt: at(1), updatedAt: at(3), version: 2 },
      { id: 'identity-admin', name: 'Identity admin', description: 'Everything', system: true, status: 'active', createdAt: at(0), updatedAt: at(0), version: 0 }
    ],
    nextCursor: null
  })
  t.strictSame(getCatalogEntry(db, 'company', 'acme'),
    { id: 'acme', name: 'ACME S.A.', identificationType: null, identificationNumber: null, status: 'active', createdAt: at(4), updatedAt: at(7), version: 3 })
  t.strictSame(getCatalogEntry(db, 'provider', 'carrier-x'),
    { id: 'carrier-x', name: 'Carrier X', identificationType: 'NIT', identificationNumber: '800', status: 'inactive', createdAt: at(8), updatedAt: at(10), version: 2 })
  t.strictSame(getCatalogEntry(db, 'identificationType', 'PA'),
    { id: 'PA', name: 'Pasaporte', status: 'active', createdAt: at(23), updatedAt: at(30), version: 1 })
  t.equal(getCatalogEntry(db, 'role', 'nope'), null)
  t.equal(getCatalogEntry(db, 'company', 'dispatcher'), null, 'each kind has its own table')

  t.strictSame(listCatalog(db, 'identificationType', { limit: 50 }, { status: 'inactive' }).items.map(e => e.id), ['RC'])
  t.strictSame(listCatalog(db, 'identificationType', { limit: 50 }, { status: 'active' }).items.map(e => e.id), ['CC', 'CE', 'NIT', 'PA', 'PEP', 'PPT', 'TI'])
  t.strictSame(listCatalog(db, 'provider', { limit: 50 }, { status: 'active' }), { items: [], nextCursor: null })

  t.test('pagination by id', async t => {
    const seen: string[] = []
    let cursor: string | undefined
    do {
      const page = listCatalog(db, 'identificationType', cursor === undefined ? { limit: 3 } : { limit: 3, cursor })
      t.ok(page.items.length <= 3)
      seen.push(...page.items.map(e => e.id))
      cursor = page.nextCursor ?? undefined
    } while (cursor !== undefined)
    t.strictSame(seen, ['CC', 'CE', 'NIT', 'PA', 'PEP', 'PPT', 'RC', 'TI'])
    const exact = listCatalog(db, 'role', { limit: 2 })
    t.equal(exact.nextCursor, null, 'no cursor when the page ends the list exactly')

    const first = listCatalog(db, 'identificationType', { limit: 3 }, { status: 'active' })
    const next = first.nextCursor as string
    t.throws(() => listCatalog(db, 'identificationType', { limit: 3, cursor: next }), InvalidCursorError, 'another filter')
    t.throws(() => listCatalog(db, 'company', { limit: 3, cursor: next }, { status: 'active' }), InvalidCursorError, 'another kind')
    t.throws(() => listCatalog(db, 'identificationType', { limit: 3, cursor: next.slice(1) }, { status: 'active' }), InvalidCursorError, 'tampered')
    t.throws(() => listCatalog(db, 'role', { limit: 0 }), RangeError)
    t.throws(() => listCatalog(db, 'bogus' as CatalogKind, { limit: 1 }), RangeError)
  })

  t.test('catalog statements are idempotent: replaying every event changes nothing', async t => {
    const before = dumpReadModel(db)
    const events = await h.store.readAll({ limit: 1000 })
    db.transaction(() => {
      for (const event of events) {
        for (const s of catalogsProjection.project(event)) db.prepare(s.sql).run(...s.params)
      }
    })()
    t.strictSame(dumpReadModel(db), before)
  })
})
