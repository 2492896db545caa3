/** IDM_SEED_FILE: catalogs (companies, providers, business roles) defined at first start. */
import { readFileSync } from 'node:fs'
import Type, { type Static } from 'typebox'
import { Value } from 'typebox/value'
import type { SeedFile } from './commands/bootstrap.js'

const Slug = Type.String({ pattern: '^[a-z0-9](?:[a-z0-9-]{0,62}[a-z0-9])?$' })
const Code = Type.String({ pattern: '^[A-Z][A-Z0-9]{0,9}$' })
const Name = Type.String({ minLength: 1, maxLength: 200 })
const Identification = {
  identificationType: Type.Optional(Type.Union([Code, Type.Null()])),
  identificationNumber: Type.Optional(Type.Union([Type.String({ pattern: '^[A-Za-z0-9-]{1,30}$' }), Type.Null()]))
}
const closed = { additionalProperties: false }

export const SeedFileSchema = Type.Object({
  roles: Type.Optional(Type.Array(Type.Object({ id: Slug, name: Name, description: Type.Optional(Type.String({ maxLength: 1000 })) }, closed))),
  companies: Type.Optional(Type.Array(Type.Object({ id: Slug, name: Name, ...Identification }, closed))),
  providers: Type.Optional(Type.Array(Type.Object({ id: Slug, name: Name, ...Identification }, closed))),
  identificationTypes: Type.Optional(Type.Array(Type.Object({ id: Code, name: Name }, closed)))
}, closed)

export class SeedFileError extends Error {}

export function readSeedFile (path: string): SeedFile {
  let parsed: unknown
  try {
    parsed = JSON.parse(readFileSync(path, 'utf8'))
  } catch (err) {
    throw new SeedFileError(`IDM_SEED_FILE ${path}: ${(err as Error).message}`)
  }
  if (!Value.Check(SeedFileSchema, parsed)) {
    const problems = Value.Errors(SeedFileSchema, parsed).map(e => `${e.instancePath || '/'} ${e.message}`)
    throw new SeedFileError(`IDM_SEED_FILE ${path} is not valid:\n  - ${problems.join('\n  - ')}`)
  }
  return parsed as Static<typeof SeedFileSchema>
}
