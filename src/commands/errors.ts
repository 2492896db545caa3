/** Failures of the command layer that are not domain rules. */

/** The stream kept changing under the command: it was retried and still lost the race. */
export class ConcurrencyError extends Error {
  readonly code = 'CONCURRENT_MODIFICATION'
  constructor (readonly stream: string) {
    super(`stream ${stream} was changed concurrently; try again`)
    this.name = 'ConcurrencyError'
  }
}

/** The client's If-Match named another version than the current one. Never retried. */
export class PreconditionFailedError extends Error {
  readonly code = 'PRECONDITION_FAILED'
  constructor (readonly expected: number, readonly actual: number) {
    super(`expected version ${expected}, current version is ${actual}`)
    this.name = 'PreconditionFailedError'
  }
}

/** Authentication failed. Deliberately says nothing about why (no user enumeration). */
export class AuthenticationError extends Error {
  readonly code = 'INVALID_CREDENTIALS'
  constructor () {
    super('invalid username or password')
    this.name = 'AuthenticationError'
  }
}

/** The current password given to a self-service password change was wrong. */
export class WrongCurrentPasswordError extends Error {
  readonly code = 'WRONG_CURRENT_PASSWORD'
  constructor () {
    super('the current password is not correct')
    this.name = 'WrongCurrentPasswordError'
  }
}
