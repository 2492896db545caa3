import { authenticationProjection } from './authentication.js'
import { catalogsProjection } from './catalogs.js'
import type { Projection } from './projection.js'
import { userAssociationsProjection } from './user-associations.js'
import { clientsProjection } from './clients.js'
import { sessionsProjection } from './sessions.js'
import { usersProjection } from './users.js'

/** Every projection of the read model. Each is independent of the others' order. */
export const defaultProjections: readonly Projection[] = [
  usersProjection,
  userAssociationsProjection,
  authenticationProjection,
  catalogsProjection,
  sessionsProjection,
  clientsProjection
]
