/** Request and response schemas of the user routes. */
import Type from 'typebox'
import { IdTypeCode, Slug } from '../../domain/events.js'
import { User } from '../../projections/user-view.js'
import { Uuid } from './common.js'

const Phone = Type.String({ pattern: '^\\+[1-9][0-9]{6,14}$', description: 'E.164' })
const Name = Type.String({ minLength: 1, maxLength: 100 })
const Email = Type.String({ format: 'email', maxLength: 254 })
const IdentificationNumber = Type.String({ pattern: '^[A-Za-z0-9-]{1,30}$' })

/** The response: the user view, declared once in src/projections/user-view.ts. */
export { User }

const profileFields = {
  email: Email,
  firstName: Name,
  lastName: Name,
  identificationType: IdTypeCode,
  identificationNumber: IdentificationNumber
}

/** Password fields are capped well above the policy's 1 KiB so the policy answers with a reason. */
const Password = Type.String({ minLength: 1, maxLength: 4096 })

export const CreateUserBody = Type.Object({
  username: Type.String({ minLength: 1, maxLength: 256, description: 'NFKC-normalized and lower-cased, then 3-64 of a-z 0-9 . _ - @' }),
  ...profileFields,
  phone: Type.Optional(Type.Union([Phone, Type.Null()])),
  password: Password,
  roles: Type.Optional(Type.Array(Slug, { maxItems: 50 })),
  companies: Type.Optional(Type.Array(Slug, { maxItems: 200 })),
  providers: Type.Optional(Type.Array(Type.Object({
    providerId: Slug,
    externalUserId: Type.Optional(Type.Union([Type.String({ minLength: 1, maxLength: 200 }), Type.Null()]))
  }), { maxItems: 50 }))
})

export const UpdateProfileBody = Type.Object({
  ...profileFields,
  phone: Type.Optional(Type.Union([Phone, Type.Null()]))
})

export const PasswordBody = Type.Object({
  newPassword: Password,
  currentPassword: Type.Optional(Password)
})

export const StatusBody = Type.Object({
  status: Type.Union([Type.Literal('active'), Type.Literal('inactive')]),
  reason: Type.Optional(Type.Union([Type.String({ maxLength: 500 }), Type.Null()]))
})

export const UserListQuery = Type.Object({
  username: Type.Optional(Type.String({ minLength: 1, maxLength: 256 })),
  email: Type.Optional(Type.String({ minLength: 1, maxLength: 254 })),
  q: Type.Optional(Type.String({ minLength: 1, maxLength: 100 })),
  status: Type.Optional(Type.Union([Type.Literal('active'), Type.Literal('inactive'), Type.Literal('locked')])),
  role: Type.Optional(Slug),
  companyId: Type.Optional(Slug),
  providerId: Type.Optional(Slug),
  identificationType: Type.Optional(IdTypeCode),
  identificationNumber: Type.Optional(IdentificationNumber),
  limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 200, default: 50 })),
  cursor: Type.Optional(Type.String({ minLength: 1, maxLength: 512 }))
})

export const RoleBody = Type.Object({
  roleId: Slug,
  companyId: Type.Optional(Slug)
})
export const RoleRemoveQuery = Type.Object({
  companyId: Type.Optional(Slug)
}, { additionalProperties: false })
export const CompanyBody = Type.Object({ companyId: Slug })
export const ProviderBody = Type.Object({
  providerId: Slug,
  externalUserId: Type.Optional(Type.Union([Type.String({ minLength: 1, maxLength: 200 }), Type.Null()]))
})

export const UserIdParam = Type.Object({ id: Uuid })
export const UserRoleParams = Type.Object({ id: Uuid, roleId: Slug })
export const UserCompanyParams = Type.Object({ id: Uuid, companyId: Slug })
export const UserProviderParams = Type.Object({ id: Uuid, providerId: Slug })
export const UsernameParam = Type.Object({ username: Type.String({ minLength: 1, maxLength: 256 }) })

export { Slug, IdTypeCode }
