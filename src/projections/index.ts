/** The read side: read-model schema, projections, runner, rebuild and queries. */
export { SCHEMA_VERSION, openReadModel, type Db, type ReadModel, type OpenReadModelOptions } from './schema.js'
export { type Statement, type Projection, searchKey } from './projection.js'
export { usersProjection } from './users.js'
export { userAssociationsProjection } from './user-associations.js'
export { authenticationProjection } from './authentication.js'
export {
  catalogsProjection, listCatalog, getCatalogEntry, CATALOG_KINDS,
  type CatalogKind, type CatalogView, type CatalogViewByKind, type CatalogFilter,
  type RoleView, type CompanyView, type ProviderView, type IdentificationTypeView
} from './catalogs.js'
export { defaultProjections } from './default-projections.js'
export { ProjectionError } from './apply.js'
export {
  createProjectionRunner, ReadModelNeedsRebuildError,
  type ProjectionRunner, type ProjectionRunnerDeps, type AppliedBatch, type RunnerState, type RunnerLogger
} from './runner.js'
export { rebuildReadModel, type RebuildDeps } from './rebuild.js'
export { dumpReadModel, type ReadModelDump } from './dump.js'
export { InvalidCursorError } from './cursor.js'
export {
  getUserById, getUserByUsername, getCredentialState, countActiveAdmins,
  type UserView, type UserStatus, type ProviderLinkView, type CredentialState
} from './user-queries.js'
export { listUsers, prefixUpperBound, type UserFilter, type UserPage, type ListUsersOptions } from './list-users.js'
export { SEARCH_DEFAULTS, type SearchTuning } from './user-search.js'
