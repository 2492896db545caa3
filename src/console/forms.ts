/**
 * Puts the server's refusal of a form beside the fields it concerns. The API says which field in
 * two ways: schema failures list JSON Pointers (`errors: [{ path: "/body/email" }]`), domain rules
 * carry a stable `code` (and `kind` for a taken value). Whatever names no field of this form
 * becomes the form's general message.
 */
import { ApiError, describe } from './api'

export type FieldErrors = Record<string, string>

export interface FormFailure { fields: FieldErrors, general: string | null }

/** Domain codes that concern one field, whatever the form calls it (aliases below). */
const BY_CODE: Record<string, string> = {
  INVALID_USERNAME: 'username',
  WEAK_PASSWORD: 'password',
  IDENTIFICATION_TYPE_UNKNOWN: 'identificationType',
  IDENTIFICATION_TYPE_INACTIVE: 'identificationType',
  ROLE_UNKNOWN: 'roleId',
  ROLE_INACTIVE: 'roleId',
  COMPANY_UNKNOWN: 'companyId',
  COMPANY_INACTIVE: 'companyId',
  PROVIDER_UNKNOWN: 'providerId',
  PROVIDER_INACTIVE: 'providerId',
  WRONG_CURRENT_PASSWORD: 'currentPassword',
  CATALOG_ENTRY_EXISTS: 'id'
}

const BY_KIND: Record<string, string> = { username: 'username', email: 'email', identification: 'identificationNumber' }

/** The problem slug when there is no `code` (command-layer errors carry it only in `type`). */
const BY_SLUG: Record<string, string> = { 'wrong-current-password': 'currentPassword', 'catalog-entry-exists': 'id' }

/**
 * `fields` are the form's field names; `aliases` maps an API field to the form's when they
 * differ (e.g. { password: 'newPassword' } on a password form).
 */
export function formFailure (error: unknown, fields: readonly string[], aliases: Record<string, string> = {}): FormFailure {
  if (!(error instanceof ApiError)) return { fields: {}, general: describe(error) }
  const known = new Set(fields)
  const result: FieldErrors = {}
  const place = (field: string | undefined, message: string): boolean => {
    if (field === undefined) return false
    const name = aliases[field] ?? field
    if (!known.has(name)) return false
    result[name] = result[name] === undefined ? message : `${result[name]}; ${message}`
    return true
  }
  const { problem } = error
  const issues = problem.errors ?? []
  let allPlaced = true
  for (const issue of issues) {
    const match = /^\/body\/([^/]+)/.exec(issue.path)
    if (!place(match?.[1], sentence(issue.message))) allPlaced = false
  }
  if (issues.length === 0) {
    const slug = problem.type.split('/').pop() ?? ''
    const field = problem.code === 'VALUE_TAKEN'
      ? BY_KIND[problem.kind ?? '']
      : BY_CODE[problem.code ?? ''] ?? BY_SLUG[slug]
    allPlaced = place(field, sentence(problem.detail))
  }
  return { fields: result, general: allPlaced ? null : describe(error) }
}

/** Schema messages as a person reads them: a regular expression means nothing to most people. */
function sentence (text: string): string {
  const plain = /^must match pattern/i.test(text) ? 'is not in the accepted format (see the hint)' : text
  return plain.length === 0 ? plain : plain[0]!.toUpperCase() + plain.slice(1)
}
