import t from 'tap'
import { SYSTEM_ROLES, IDENTIFICATION_TYPES } from '../../src/domain/seed.js'
import { ADMIN_ROLE } from '../../src/domain/user.js'
import { catalogDecider } from '../../src/domain/catalog.js'
import { specification } from './given-when-then.js'

const catalog = specification(catalogDecider)

t.test('the system roles', async t => {
  t.strictSame(SYSTEM_ROLES.map(r => r.id), [ADMIN_ROLE, 'identity-auditor', 'identity-subscriber', 'company-admin', 'company-auditor'])
})

t.test('each system role defines as a valid, protected RoleDefined', async t => {
  for (const { id, name, description } of SYSTEM_ROLES) {
    catalog(t).given([]).when({ type: 'DefineCatalogEntry', data: { kind: 'role', id, name, description, system: true } })
      .then([{ type: 'RoleDefined', data: { id, name, description, system: true } }])
  }
})

t.test('Colombia\'s identification types', async t => {
  t.strictSame(IDENTIFICATION_TYPES.map(i => i.id), ['CC', 'CE', 'NIT', 'PA', 'TI', 'RC', 'PEP', 'PPT'])
  t.equal(IDENTIFICATION_TYPES.find(i => i.id === 'CC')?.name, 'Cédula de ciudadanía')
})

t.test('each identification type defines as a valid IdentificationTypeDefined', async t => {
  for (const { id, name } of IDENTIFICATION_TYPES) {
    catalog(t).given([]).when({ type: 'DefineCatalogEntry', data: { kind: 'identificationType', id, name } })
      .then([{ type: 'IdentificationTypeDefined', data: { id, name } }])
  }
})
