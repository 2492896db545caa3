/**
 * The written policy table of issue 13: for every /v1 route (and, where one route does two
 * things, each variant), what each kind of caller gets for each kind of target user. It is the
 * specification that docs/company-scope.md renders and that test/http/company-matrix.test.ts
 * checks the running service against, over every route in Fastify's route table. It enforces
 * nothing itself: enforcement is the routes' `config.auth`, the read scope (scope.ts) and the
 * write model (src/domain/company-scope.ts), so a disagreement between them and this table shows.
 *
 * Rules (what a caller gets, by the target's relation to the caller's companies):
 *   - `allow`      any target (a global reader or writer);
 *   - `scoped`     targets linked to one of its companies; any other user answers as one that
 *                  does not exist (404, same body);
 *   - `guarded`    as `scoped`, but a target it may see and not change (an identity-admin, a
 *                  holder of another global system role or of a system role elsewhere) is 403;
 *   - `see-only`   as `scoped`, but a target it may see is 403 (the action is not a company one);
 *   - `forbidden`  403 whoever the target (the same for a user that does not exist).
 * A route without a target user (lists, creation, catalogs, the feed) uses `allow`, `scoped`
 * (a list narrowed to the caller's companies) or `forbidden`.
 * `linkTo: 'own'`: the request names the caller's company; a permitted request for a target not
 * linked to it is 422 (COMPANY_NOT_LINKED).
 */
import { ROLES } from '../../domain/roles.js'

export const CALLER_KINDS = ['identity-admin', 'identity-auditor', 'company-admin', 'company-auditor', 'subscriber', 'company-subscriber', 'plain'] as const
export type CallerKind = (typeof CALLER_KINDS)[number]
export type Rule = 'allow' | 'scoped' | 'guarded' | 'see-only' | 'forbidden'
export type Outcome = 'ok' | 'hidden' | 'forbidden' | 'invalid'

export interface AccessRow {
  /** `METHOD /v1/path` as Fastify's route table has it, with a variant after `#` where needed. */
  readonly route: string
  readonly action: string
  /** Whether the route names a target user (`:id` or `:username`). */
  readonly target: boolean
  readonly linkTo?: 'own'
  readonly rules: Readonly<Record<CallerKind, Rule>>
}

/** identity-subscriber held globally (`subscriber`) or in a company (`company-subscriber`). */
const r = (admin: Rule, auditor: Rule, companyAdmin: Rule, companyAuditor: Rule, subscriber: Rule, plain: Rule, companySubscriber: Rule = plain): Record<CallerKind, Rule> =>
  ({ 'identity-admin': admin, 'identity-auditor': auditor, 'company-admin': companyAdmin, 'company-auditor': companyAuditor, subscriber, 'company-subscriber': companySubscriber, plain })

const ADMIN_ONLY = r('allow', 'forbidden', 'forbidden', 'forbidden', 'forbidden', 'forbidden')
const GLOBAL_READERS = r('allow', 'allow', 'forbidden', 'forbidden', 'forbidden', 'forbidden')
const USER_READERS = r('allow', 'allow', 'scoped', 'scoped', 'forbidden', 'forbidden')
const COMPANY_WRITE = r('allow', 'forbidden', 'guarded', 'forbidden', 'forbidden', 'forbidden')
const GLOBAL_WRITE = r('allow', 'forbidden', 'see-only', 'forbidden', 'forbidden', 'forbidden')
const FEED = r('allow', 'allow', 'forbidden', 'forbidden', 'allow', 'forbidden')
const CATALOG_READ = r('allow', 'allow', 'allow', 'allow', 'forbidden', 'forbidden')
/** Only the user itself (never a target of another caller). */
const NOBODY = r('forbidden', 'forbidden', 'forbidden', 'forbidden', 'forbidden', 'forbidden')
const ANYONE = r('allow', 'allow', 'allow', 'allow', 'allow', 'allow')

const row = (route: string, action: string, rules: Record<CallerKind, Rule>, extra: Partial<AccessRow> = {}): AccessRow =>
  ({ route, action, target: /^\w+ \/v1\/users\/(:id|by-username)/.test(route), rules, ...extra })

const catalogRows = (path: string, name: string, read: Record<CallerKind, Rule>): AccessRow[] => [
  row(`GET /v1/${path}`, `list ${name}`, read),
  row(`GET /v1/${path}/:id`, `read a ${name} entry`, read),
  row(`POST /v1/${path}`, `define a ${name} entry`, ADMIN_ONLY),
  row(`PUT /v1/${path}/:id`, `change a ${name} entry`, ADMIN_ONLY)
]

export const ACCESS_TABLE: readonly AccessRow[] = [
  row('POST /v1/authentication', 'sign in', ANYONE),
  row('POST /v1/authentication/mfa', 'sign in: the second step', ANYONE),
  row('POST /v1/authentication/step-up', 'prove a second factor again', ANYONE),
  row('POST /v1/users/:id/mfa/totp', "enrol another user's authenticator (only one's own)", NOBODY),
  row('POST /v1/users/:id/mfa/totp/verify', "confirm another user's authenticator (only one's own)", NOBODY),
  row('DELETE /v1/users/:id/mfa/totp', "remove another user's authenticator (one's own, or an identity-admin)", ADMIN_ONLY),
  row('POST /v1/users/:id/mfa/recovery-codes', "make another user's recovery codes (only one's own)", NOBODY),
  row('GET /v1/users/:id/mfa', "read a user's second factors", GLOBAL_READERS),
  row('DELETE /v1/users/:id/mfa', "reset a user's second factors", ADMIN_ONLY),
  row('GET /v1/users', 'list and search users', USER_READERS),
  row('GET /v1/users/me', 'read oneself', ANYONE),
  row('GET /v1/users/by-username/:username', 'look a user up by username', USER_READERS),
  row('GET /v1/users/:id', 'read a user', USER_READERS),
  row('GET /v1/users/:id#asOf', 'read a user as of an instant', USER_READERS),
  row('GET /v1/users/:id/history', "read a user's history", USER_READERS),
  row('POST /v1/users', 'create a user (a company admin: linked to its company)', r('allow', 'forbidden', 'allow', 'forbidden', 'forbidden', 'forbidden')),
  row('PUT /v1/users/:id', 'edit the profile', COMPANY_WRITE),
  row('PUT /v1/users/:id/status', 'activate or deactivate', COMPANY_WRITE),
  row('PUT /v1/users/:id/password', "reset another user's password", COMPANY_WRITE),
  row('POST /v1/users/:id/roles', 'grant a global role', GLOBAL_WRITE),
  row('POST /v1/users/:id/roles#company', 'grant a role in its company', COMPANY_WRITE, { linkTo: 'own' }),
  row('POST /v1/users/:id/roles#company-admin', `grant ${ROLES.companyAdmin} of its company`, COMPANY_WRITE, { linkTo: 'own' }),
  row('DELETE /v1/users/:id/roles/:roleId', 'remove a global role', GLOBAL_WRITE),
  row('DELETE /v1/users/:id/roles/:roleId#company', 'remove a role held in its company', COMPANY_WRITE),
  row('POST /v1/users/:id/companies', 'link its company', COMPANY_WRITE),
  row('DELETE /v1/users/:id/companies/:companyId', 'unlink its company', COMPANY_WRITE),
  row('POST /v1/users/:id/providers', 'link a provider', ADMIN_ONLY),
  row('DELETE /v1/users/:id/providers/:providerId', 'unlink a provider', ADMIN_ONLY),
  row('GET /v1/users/:id/sessions', "read a user's sessions", GLOBAL_READERS),
  row('DELETE /v1/users/:id/sessions', "end all of a user's sessions", ADMIN_ONLY),
  row('DELETE /v1/users/:id/sessions/:sessionId', "end one of a user's sessions", ADMIN_ONLY),
  row('GET /v1/audit/verify', 'check the hash chains', GLOBAL_READERS),
  row('GET /v1/events', 'read the event feed', FEED),
  row('GET /v1/events/stream', 'stream the event feed', FEED),
  row('GET /v1/events/schema', 'read the event schemas', FEED),
  ...catalogRows('roles', 'role', CATALOG_READ),
  ...catalogRows('identification-types', 'identification type', CATALOG_READ),
  ...catalogRows('companies', 'company', GLOBAL_READERS),
  ...catalogRows('providers', 'provider', GLOBAL_READERS),
  row('GET /v1/clients', 'list OAuth clients', GLOBAL_READERS),
  row('GET /v1/clients/:id', 'read an OAuth client', GLOBAL_READERS),
  row('POST /v1/clients', 'register an OAuth client', ADMIN_ONLY),
  row('PUT /v1/clients/:id', 'change an OAuth client', ADMIN_ONLY),
  row('POST /v1/clients/:id/secret', "rotate a client's secret", ADMIN_ONLY)
]

/** How a target user relates to a caller's companies. */
export interface TargetRelation {
  /** Linked to one of the caller's companies (always true for a global caller). */
  readonly inScope: boolean
  /** A user the caller may see but not change (company-scope.ts `protectedFrom`). */
  readonly guarded: boolean
  /** Linked to the company the request names (for `linkTo`). */
  readonly linked: boolean
}

/** What the table says a request gets; a route without a target ignores the relation. */
export function expectedOutcome (row: AccessRow, caller: CallerKind, target: TargetRelation | null): Outcome {
  const rule = row.rules[caller]
  if (rule === 'forbidden') return 'forbidden'
  if (target === null) return 'ok'
  if (rule !== 'allow' && !target.inScope) return 'hidden'
  if (rule === 'see-only') return 'forbidden'
  if (rule === 'guarded' && target.guarded) return 'forbidden'
  if (row.linkTo === 'own' && !target.linked) return 'invalid'
  return 'ok'
}

/** docs/company-scope.md's table, generated from ACCESS_TABLE (a test keeps the file in step). */
export function renderAccessTable (): string {
  const head = `| route | action | ${CALLER_KINDS.join(' | ')} |\n|---|---|${CALLER_KINDS.map(() => '---|').join('')}\n`
  return head + ACCESS_TABLE.map(a => `| \`${a.route}\` | ${a.action}${a.linkTo === 'own' ? ' (422 if not linked)' : ''} | ${CALLER_KINDS.map(k => a.rules[k]).join(' | ')} |`).join('\n') + '\n'
}

/** The whole of docs/company-scope.md: the rules in words, then the table. */
export function renderCompanyScopeDoc (): string {
  return `# Company-scoped administration: the policy table

<!-- Generated from src/http/auth/access-table.ts (UPDATE_DOCS=1 npx tap test/docs.test.ts). -->

Each company runs its own people. A role is held **globally** (\`roles\` of the user) or **in a
company** (\`companyRoles: [{ companyId, roleId }]\`, which need the user linked to that company;
unlinking the company removes them, with an event for each). \`POST /v1/users/{id}/roles
{ roleId, companyId }\` grants in a company, \`DELETE /v1/users/{id}/roles/{roleId}?companyId=\`
removes. identity-admin and identity-auditor are global only; company-admin and company-auditor
are in a company only; identity-subscriber and business roles may be either.

- **company-admin** of a company lists, searches and reads the users linked to it, creates users
  (linked to it on creation), edits their profile and status, resets their password, grants and
  removes non-system roles and company-admin/company-auditor *in its company*, and links and
  unlinks *its* company. It never sees anyone else, never grants global roles, never touches
  another company's links or roles, catalogs or clients, and never changes a user it may see but
  not change (\`guarded\`): an identity-admin, a holder of another global system role, or a
  holder of a system role in a company it does not run.
- **company-auditor** reads what its company admins may change, plus history and as-of.
- A company-scoped reader sees of a user only its own companies' links and roles, and of its
  history the events that do not name another company.
- **No existence leaks:** a user outside the caller's scope is answered exactly as a user that
  does not exist (404, same body); lists, search, \`by-username\`, filters (another company's
  \`companyId\` matches nobody) and cursors never show one. A 409 on a taken username, email or
  identification is the one place a taken value shows, and it says nothing else.
- **Decided in the write model:** whether a company admin may change a user is decided from the
  user's own stream at the revision the command is planned on (src/domain/company-scope.ts),
  not from the read model: a user unlinked from the company a moment before is refused.
- **Tokens carry routing claims**, absent when empty: \`companies\` (the user's linked company
  ids) and \`company_roles\` (\`{ "<companyId>": ["<roleId>", ...] }\`), in the access tokens of
  POST /v1/authentication (and its MFA and step-up steps) and of the OpenID provider, and with
  scope \`profile\` in its ID token / userinfo. They say what held at sign-in; authorization never
  reads them (the read model decides on every request), so a revoked company role is refused at
  once even though the token still lists it (test/http/company-token-claims.test.ts).

Rules: \`allow\` any target · \`scoped\` targets linked to one of the caller's companies, others
404 as if missing · \`guarded\` as scoped, and 403 on a target it may see but not change ·
\`see-only\` as scoped, and 403 on every target it may see · \`forbidden\` 403 whoever the target.
\`company-subscriber\` holds identity-subscriber in a company.

${renderAccessTable()}
test/http/company-matrix.test.ts sends every row's request for every caller kind and every kind
of target, over every route in Fastify's route table, and checks each answer against this table.
`
}
