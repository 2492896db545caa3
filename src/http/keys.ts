/**
 * ES256 (P-256) signing keys for access tokens.
 *
 * The key file holds one or more PEM blocks: the first is a private key and signs; the others
 * (private or public keys) only verify, so a rotation is "prepend a new key, keep the old one
 * until its tokens have expired". Every key is identified by its RFC 7638 JWK thumbprint.
 * Private material stays inside this module: the object never serialises or prints it.
 */
import { createHash, createPrivateKey, createPublicKey, generateKeyPairSync, type KeyObject } from 'node:crypto'
import { mkdirSync, readFileSync, statSync, writeFileSync } from 'node:fs'
import { dirname } from 'node:path'
import { inspect } from 'node:util'

export interface PublicJwk {
  readonly kty: 'EC'
  readonly crv: 'P-256'
  readonly x: string
  readonly y: string
  readonly kid: string
  readonly alg: 'ES256'
  readonly use: 'sig'
}

export interface Jwks { keys: PublicJwk[] }

export interface SigningKeys {
  /** The kid of the key that signs new tokens. */
  readonly activeKid: string
  /** Every kid that verifies, the active one first. */
  readonly kids: readonly string[]
  /** PKCS#8 PEM of the active private key, for the JWT signer only. Never log it. */
  activePrivateKeyPem (): string
  /** SPKI PEM of a verification key, or undefined for an unknown kid. */
  publicKeyPem (kid: string): string | undefined
  jwks (): Jwks
  /** Things an operator should know about the key file (e.g. loose permissions). */
  readonly warnings: readonly string[]
}

export class SigningKeyError extends Error {
  constructor (message: string) {
    super(message)
    this.name = 'SigningKeyError'
  }
}

interface Entry { readonly kid: string, readonly jwk: PublicJwk, readonly publicPem: string }

class KeySet implements SigningKeys {
  readonly #privatePem: string
  readonly #entries: ReadonlyMap<string, Entry>
  readonly activeKid: string
  readonly kids: readonly string[]
  readonly warnings: readonly string[]

  constructor (privatePem: string, entries: readonly Entry[], warnings: readonly string[]) {
    this.#privatePem = privatePem
    this.#entries = new Map(entries.map((e) => [e.kid, e]))
    this.kids = Object.freeze(entries.map((e) => e.kid))
    this.activeKid = entries[0]!.kid
    this.warnings = Object.freeze([...warnings])
    Object.freeze(this)
  }

  activePrivateKeyPem (): string { return this.#privatePem }
  publicKeyPem (kid: string): string | undefined { return this.#entries.get(kid)?.publicPem }
  jwks (): Jwks { return { keys: [...this.#entries.values()].map((e) => ({ ...e.jwk })) } }
  toJSON (): object { return { activeKid: this.activeKid, kids: this.kids } }
  [inspect.custom] (): string { return `SigningKeys { activeKid: '${this.activeKid}', kids: ${this.kids.length} }` }
}

const PEM_BLOCK = /-----BEGIN ([A-Z0-9 ]+)-----[\s\S]*?-----END \1-----/g

/** Builds the key set from the text of a key file (one or more PEM blocks, the first private). */
export function signingKeysFromPem (text: string, warnings: readonly string[] = []): SigningKeys {
  const blocks = [...text.matchAll(PEM_BLOCK)].map((m) => ({ label: m[1]!, pem: m[0] }))
  if (blocks.length === 0) throw new SigningKeyError('the signing key file holds no PEM block')

  let privatePem: string | undefined
  const entries: Entry[] = []
  for (const [index, block] of blocks.entries()) {
    const key = parseBlock(block.label, block.pem, index)
    if (index === 0) {
      if (key.type !== 'private') throw new SigningKeyError('the first PEM block must be the private key that signs')
      privatePem = key.export({ type: 'pkcs8', format: 'pem' }).toString()
    }
    const publicKey = key.type === 'private' ? createPublicKey(key) : key
    const entry = describe(publicKey, index)
    if (!entries.some((e) => e.kid === entry.kid)) entries.push(entry)
  }
  return new KeySet(privatePem!, entries, warnings)
}

function parseBlock (label: string, pem: string, index: number): KeyObject {
  if (label === 'ENCRYPTED PRIVATE KEY') throw new SigningKeyError(`PEM block ${index + 1}: encrypted keys are not supported`)
  let key: KeyObject
  try {
    key = label === 'PUBLIC KEY' ? createPublicKey(pem) : createPrivateKey(pem)
  } catch {
    throw new SigningKeyError(`PEM block ${index + 1} (${label}) is not a readable key`)
  }
  if (key.asymmetricKeyType !== 'ec' || key.asymmetricKeyDetails?.namedCurve !== 'prime256v1') {
    throw new SigningKeyError(`PEM block ${index + 1} is not a P-256 (ES256) key`)
  }
  return key
}

function describe (publicKey: KeyObject, index: number): Entry {
  const jwk = publicKey.export({ format: 'jwk' })
  if (jwk.kty !== 'EC' || jwk.crv !== 'P-256' || typeof jwk.x !== 'string' || typeof jwk.y !== 'string') {
    throw new SigningKeyError(`PEM block ${index + 1} is not a P-256 (ES256) key`)
  }
  const kid = thumbprint(jwk.x, jwk.y)
  return {
    kid,
    jwk: Object.freeze({ kty: 'EC', crv: 'P-256', x: jwk.x, y: jwk.y, kid, alg: 'ES256', use: 'sig' }),
    publicPem: publicKey.export({ type: 'spki', format: 'pem' }).toString()
  }
}

/** RFC 7638: SHA-256 over the required members in lexicographic order, no whitespace. */
function thumbprint (x: string, y: string): string {
  const canonical = JSON.stringify({ crv: 'P-256', kty: 'EC', x, y })
  return createHash('sha256').update(canonical).digest('base64url')
}

/** A new P-256 private key as PKCS#8 PEM. */
export function generateSigningKeyPem (): string {
  const { privateKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' })
  return privateKey.export({ type: 'pkcs8', format: 'pem' }).toString()
}

/**
 * Reads the key file, or creates it with a fresh key (directory created, file mode 0600) when it
 * does not exist. Two processes starting at once agree on one key: the file is created
 * exclusively and the loser reads the winner's.
 */
export function loadOrCreateSigningKeys (options: { readonly keyFile: string }): SigningKeys {
  const { keyFile } = options
  try {
    mkdirSync(dirname(keyFile), { recursive: true, mode: 0o700 })
    writeFileSync(keyFile, generateSigningKeyPem(), { mode: 0o600, flag: 'wx' })
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error
  }
  const warnings: string[] = []
  if (process.platform !== 'win32' && (statSync(keyFile).mode & 0o077) !== 0) {
    warnings.push(`${keyFile} is readable by other users; restrict it with chmod 600`)
  }
  return signingKeysFromPem(readFileSync(keyFile, 'utf8'), warnings)
}
