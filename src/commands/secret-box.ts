/**
 * Secrets the service must read back (TOTP secrets), sealed at rest with an operator's key: the
 * one module that encrypts them, so that a per-user wrapping (crypto-shredding) can sit here later
 * without touching the callers.
 *
 * AES-256-GCM with a fresh 96-bit IV per seal; the associated data binds a sealed value to its
 * purpose and its user (a sealed secret copied into another user's stream does not open). Sealed
 * form: `v1.<kid>.<iv>.<ciphertext>.<tag>` (base64url), so the key that sealed it is known.
 *
 * The key file (IDM_MFA_KEY_FILE, default <data dir>/mfa-keys): one key per line, `<kid> <32
 * bytes base64url>`, `#` comments. The first line seals; every line opens. Rotation: put a new
 * line first and restart every node; keep the old lines while values sealed with them exist
 * (`idm keys mfa-status` is not built: a factor re-enrolled after the rotation is sealed with
 * the new key). Generated with one key (mode 0600) on the first start when missing.
 */
import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto'
import { closeSync, existsSync, fsyncSync, mkdirSync, openSync, readFileSync, statSync, writeSync } from 'node:fs'
import { dirname } from 'node:path'
import { inspect } from 'node:util'

export interface SecretBox {
  /** Seals `plaintext` for `context` (e.g. `totp|<userId>`). */
  seal (plaintext: Uint8Array, context: string): string
  /** Opens a sealed value for the same context; throws SealedSecretError when it does not open. */
  open (sealed: string, context: string): Buffer
  /** The kid of the sealing key. */
  readonly activeKid: string
  readonly warnings: readonly string[]
}

export class SealedSecretError extends Error {
  constructor (message: string) {
    super(message)
    this.name = 'SealedSecretError'
  }
}

const KID = /^[A-Za-z0-9_-]{1,32}$/
const SEALED = /^v1\.([A-Za-z0-9_-]{1,32})\.([A-Za-z0-9_-]{16})\.([A-Za-z0-9_-]*)\.([A-Za-z0-9_-]{22})$/

/** A box over the given keys (first seals); each key is 32 bytes. */
export function createSecretBox (keys: readonly { kid: string, key: Uint8Array }[], warnings: readonly string[] = []): SecretBox {
  if (keys.length === 0) throw new SealedSecretError('a secret box needs at least one key')
  const byKid = new Map<string, Buffer>()
  for (const { kid, key } of keys) {
    if (!KID.test(kid)) throw new SealedSecretError(`key id ${JSON.stringify(kid)} must be 1-32 of A-Z a-z 0-9 _ -`)
    if (key.byteLength !== 32) throw new SealedSecretError(`key ${kid} must be 32 bytes, not ${key.byteLength}`)
    if (byKid.has(kid)) throw new SealedSecretError(`key id ${kid} appears twice`)
    byKid.set(kid, Buffer.from(key))
  }
  const activeKid = keys[0]!.kid
  const box: SecretBox = {
    activeKid,
    warnings,
    seal (plaintext, context) {
      const iv = randomBytes(12)
      const cipher = createCipheriv('aes-256-gcm', byKid.get(activeKid)!, iv)
      cipher.setAAD(Buffer.from(`idm-sealed-v1|${context}`))
      const ciphertext = Buffer.concat([cipher.update(plaintext), cipher.final()])
      const b = (x: Buffer): string => x.toString('base64url')
      return `v1.${activeKid}.${b(iv)}.${b(ciphertext)}.${b(cipher.getAuthTag())}`
    },
    open (sealed, context) {
      const match = SEALED.exec(sealed)
      if (match === null) throw new SealedSecretError('not a sealed value')
      const [, kid, iv, ciphertext, tag] = match as unknown as [string, string, string, string, string]
      const key = byKid.get(kid)
      if (key === undefined) throw new SealedSecretError(`sealed with key ${kid}, which the key file no longer holds`)
      try {
        const decipher = createDecipheriv('aes-256-gcm', key, Buffer.from(iv, 'base64url'))
        decipher.setAAD(Buffer.from(`idm-sealed-v1|${context}`))
        decipher.setAuthTag(Buffer.from(tag, 'base64url'))
        return Buffer.concat([decipher.update(Buffer.from(ciphertext, 'base64url')), decipher.final()])
      } catch {
        throw new SealedSecretError('the sealed value does not open with its key and context')
      }
    }
  }
  // Never print key material, whatever logs the object.
  Object.defineProperty(box, inspect.custom, { value: () => `SecretBox { activeKid: ${activeKid}, keys: ${byKid.size} }` })
  Object.defineProperty(box, 'toJSON', { value: () => ({ activeKid, keys: byKid.size }) })
  return box
}

/** Parses a key file's text. */
export function parseSecretKeys (text: string): { kid: string, key: Buffer }[] {
  const keys: { kid: string, key: Buffer }[] = []
  for (const [index, raw] of text.split('\n').entries()) {
    const line = raw.trim()
    if (line === '' || line.startsWith('#')) continue
    const [kid, material, extra] = line.split(/\s+/)
    if (kid === undefined || material === undefined || extra !== undefined || !/^[A-Za-z0-9_-]+$/.test(material)) {
      throw new SealedSecretError(`line ${index + 1}: expected "<kid> <32 bytes in base64url>"`)
    }
    keys.push({ kid, key: Buffer.from(material, 'base64url') })
  }
  return keys
}

/** A new key line: a random kid and 32 random bytes. */
export const newSecretKeyLine = (): string => `${randomBytes(6).toString('base64url')} ${randomBytes(32).toString('base64url')}`

/** Reads the key file, creating it (mode 0600, one new key) when it does not exist. */
export function loadOrCreateSecretBox (file: string): SecretBox {
  if (!existsSync(file)) {
    mkdirSync(dirname(file), { recursive: true, mode: 0o700 })
    const fd = openSync(file, 'wx', 0o600)
    try {
      writeSync(fd, `# Identity Manager operator keys for sealed secrets (TOTP). The first line seals; every line opens.\n${newSecretKeyLine()}\n`)
      fsyncSync(fd)
    } finally {
      closeSync(fd)
    }
  }
  const warnings = (statSync(file).mode & 0o077) !== 0 ? [`${file} is readable by other users; chmod 600 it`] : []
  return createSecretBox(parseSecretKeys(readFileSync(file, 'utf8')), warnings)
}
