/**
 * Password hashing with scrypt-kdf. The cost is the operator's trade-off (configuration), and it
 * is stored inside every hash (scrypt-kdf's self-describing 96-byte format, base64 here), so a
 * hash made with weaker parameters is recognised and upgraded on the next successful login.
 */
import { randomBytes } from 'node:crypto'
import * as ScryptModule from 'scrypt-kdf'

// scrypt-kdf 4's typings declare named exports, but the module only has a default export.
const Scrypt = (ScryptModule as unknown as { default: typeof ScryptModule }).default

export interface ScryptCost { logN: number, r: number, p: number }

export interface PasswordHasher {
  hash(password: string): Promise<string>
  verify(hash: string, password: string): Promise<boolean>
  /** True when the hash was made with weaker parameters than the configured ones. */
  needsRehash(hash: string): boolean
  /**
   * Verifies against a hash of a random secret with the configured cost: the same work as a
   * real check, for unknown users and locked accounts, so timing tells nothing.
   */
  burn(password: string): Promise<void>
}

export async function createPasswordHasher (cost: ScryptCost): Promise<PasswordHasher> {
  const params = { logN: cost.logN, r: cost.r, p: cost.p }
  const hash = async (password: string): Promise<string> =>
    Buffer.from(await Scrypt.kdf(password.normalize('NFKC'), params)).toString('base64')
  const decoy = await hash(randomBytes(32).toString('base64'))

  const verify = async (stored: string, password: string): Promise<boolean> => {
    try {
      return await Scrypt.verify(Buffer.from(stored, 'base64'), password.normalize('NFKC'))
    } catch {
      return false // a malformed stored hash never authenticates
    }
  }
  return {
    hash,
    verify,
    needsRehash (stored) {
      try {
        const used = Scrypt.viewParams(Buffer.from(stored, 'base64'))
        return used.logN < params.logN || used.r < params.r || used.p < params.p
      } catch {
        return true
      }
    },
    async burn (password) {
      await verify(decoy, password)
    }
  }
}
