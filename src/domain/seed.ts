/** What a fresh install holds before anyone has written anything. */
import { ROLES } from './roles.js'

export interface SeedEntry { readonly id: string, readonly name: string }
export interface SeedRole extends SeedEntry { readonly description: string }

/** Roles the service itself relies on; defined with `system: true` so they can never be deactivated. */
export const SYSTEM_ROLES: readonly SeedRole[] = [
  { id: ROLES.admin, name: 'Identity administrator', description: 'May do everything' },
  { id: ROLES.auditor, name: 'Identity auditor', description: 'Reads users, catalogs and the event history' },
  { id: ROLES.subscriber, name: 'Identity event subscriber', description: 'Reads the event feed and stream' },
  { id: ROLES.companyAdmin, name: 'Company administrator', description: 'In a company: runs the users linked to it' },
  { id: ROLES.companyAuditor, name: 'Company auditor', description: 'In a company: reads its users, their history and past state' }
]

/** Colombia's identification document types. */
export const IDENTIFICATION_TYPES: readonly SeedEntry[] = [
  { id: 'CC', name: 'Cédula de ciudadanía' },
  { id: 'CE', name: 'Cédula de extranjería' },
  { id: 'NIT', name: 'Número de identificación tributaria' },
  { id: 'PA', name: 'Pasaporte' },
  { id: 'TI', name: 'Tarjeta de identidad' },
  { id: 'RC', name: 'Registro civil de nacimiento' },
  { id: 'PEP', name: 'Permiso especial de permanencia' },
  { id: 'PPT', name: 'Permiso por protección temporal' }
]
