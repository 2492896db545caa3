/**
 * The signed-in session: the access token lives in sessionStorage (one browser tab, gone when the
 * tab closes; never a cookie, so no other origin's request carries it). Signing out, or a 401
 * from the API, clears it.
 */
const KEY = 'idm.console.token'
const NOTICE = 'idm.console.notice'

let memory: string | null = null

function storage (): Storage | null {
  try {
    return window.sessionStorage
  } catch {
    return null // storage disabled: the token lives in memory only, until a reload
  }
}

export const session = {
  token (): string | null {
    return memory ?? storage()?.getItem(KEY) ?? null
  },
  start (token: string): void {
    memory = token
    storage()?.setItem(KEY, token)
  },
  /** Ends the session; `notice` is what the sign-in page shows next (why you are there). */
  end (notice?: string): void {
    memory = null
    storage()?.removeItem(KEY)
    if (notice === undefined) storage()?.removeItem(NOTICE)
    else storage()?.setItem(NOTICE, notice)
  },
  /**
   * The session the console's token belongs to (its `sid` claim), to mark it in the sessions
   * panel. Read from the token's payload without verifying it: the server verifies every call;
   * this only decides which row says "this browser".
   */
  sessionId (): string | null {
    const payload = session.token()?.split('.')[1]
    if (payload === undefined) return null
    try {
      const claims = JSON.parse(atob(payload.replace(/-/g, '+').replace(/_/g, '/'))) as { sid?: unknown }
      return typeof claims.sid === 'string' ? claims.sid : null
    } catch {
      return null
    }
  },
  /** The notice left by end(), read once. */
  takeNotice (): string | null {
    const value = storage()?.getItem(NOTICE) ?? null
    storage()?.removeItem(NOTICE)
    return value
  }
}
