/**
 * A rule of the domain was broken. The code is stable (clients and the HTTP layer map it);
 * the message is for humans; details carry safe, structured context (never a secret).
 */
export type DomainErrorCode =
  | 'USER_NOT_FOUND' | 'USER_EXISTS'
  | 'ROLE_UNKNOWN' | 'ROLE_INACTIVE'
  | 'COMPANY_UNKNOWN' | 'COMPANY_INACTIVE'
  | 'PROVIDER_UNKNOWN' | 'PROVIDER_INACTIVE'
  | 'IDENTIFICATION_TYPE_UNKNOWN' | 'IDENTIFICATION_TYPE_INACTIVE'
  | 'LAST_ADMIN'
  | 'VALUE_TAKEN'
  | 'CATALOG_ENTRY_EXISTS' | 'CATALOG_ENTRY_NOT_FOUND' | 'SYSTEM_ROLE_PROTECTED'
  | 'INVALID_USERNAME' | 'WEAK_PASSWORD'
  | 'SESSION_NOT_FOUND'
  | 'MFA_FACTOR_EXISTS' | 'MFA_NOT_ENROLLING' | 'MFA_NOT_ENROLLED' | 'MFA_CODE_INVALID' | 'SECOND_FACTOR_REFUSED'
  | 'CLIENT_NOT_FOUND' | 'CLIENT_EXISTS' | 'CLIENT_INVALID'
  | 'COMPANY_NOT_LINKED' | 'ROLE_COMPANY_ONLY' | 'ROLE_GLOBAL_ONLY' | 'OUT_OF_COMPANY_SCOPE' | 'COMPANY_REQUIRED'

export class DomainError extends Error {
  constructor (
    readonly code: DomainErrorCode,
    message: string,
    readonly details: Readonly<Record<string, unknown>> = {}
  ) {
    super(message)
    this.name = 'DomainError'
  }
}
