/**
 * ES256 (P-256) signing keys for access tokens.
 *
 * The key file holds one or more PEM blocks: the first is a private key and signs; the others
 * (private or public keys) only verify, so a rotation is "prepend a new key, keep the old one
 * until its tokens have expired". Every key is identified by its RFC 7638 JWK thumbprint.
 * Private material stays inside this module: the object never serialises or prints it.
 *
 * Rotation (docs/reliability.md): `addSigningKey` (a new key, verify-only or at once active),
 * `activateSigningKey` (move it first), `retireSigningKey` (drop an old one once the tokens it
 * signed have expired). Each rewrites the file atomically (mode 0600); the service reads the
 * file on start, so every API node is restarted after each step.
 */
import { createHash, createPrivateKey, createPublicKey, generateKeyPairSync, type KeyObject } from 'node:crypto'
import { closeSync, fsyncSync, mkdirSync, openSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs'
import { basename, dirname, join } from 'node:path'
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

// ── rotation: editing the key file ──────────────────────────────────────────────────────────

/** One PEM block of a key file, in file order. */
export interface KeyFileEntry {
  readonly kid: string
  /** A private key (can sign when first) or only a public key (verifies). */
  readonly private: boolean
  /** First in the file: the key that signs new tokens. */
  readonly active: boolean
}

interface Block { readonly kid: string, readonly private: boolean, readonly pem: string }

function blocksOf (text: string): Block[] {
  return [...text.matchAll(PEM_BLOCK)].map((m, index) => {
    const key = parseBlock(m[1]!, m[0], index)
    const publicKey = key.type === 'private' ? createPublicKey(key) : key
    return { kid: describe(publicKey, index).kid, private: key.type === 'private', pem: m[0].trim() }
  })
}

/** The keys of a key file, the signing one first. */
export function listKeyFile (keyFile: string): KeyFileEntry[] {
  return blocksOf(readFileSync(keyFile, 'utf8')).map((b, index) => ({ kid: b.kid, private: b.private, active: index === 0 }))
}

/**
 * Adds a freshly generated key to the key file and returns its kid. With `activate` it goes
 * first and signs from the next start (one node, or nodes restarted together); without, it is
 * appended and only verifies — step one of a rotation across several nodes, so that every node
 * accepts the new key's tokens before any node signs with it (then `activateSigningKey`).
 */
export function addSigningKey (keyFile: string, options: { readonly activate?: boolean } = {}): string {
  const blocks = blocksOf(readFileSync(keyFile, 'utf8'))
  const pem = generateSigningKeyPem().trim()
  const [added] = blocksOf(pem)
  const next = options.activate === true ? [added!, ...blocks] : [...blocks, added!]
  writeKeyFile(keyFile, next)
  return added!.kid
}

/** Makes a key already in the file (a private one) the signing key: it moves first. */
export function activateSigningKey (keyFile: string, kid: string): void {
  const blocks = blocksOf(readFileSync(keyFile, 'utf8'))
  const chosen = blocks.find((b) => b.kid === kid)
  if (chosen === undefined) throw new SigningKeyError(`no key ${kid} in ${keyFile}`)
  if (!chosen.private) throw new SigningKeyError(`key ${kid} is a public key only and cannot sign`)
  writeKeyFile(keyFile, [chosen, ...blocks.filter((b) => b !== chosen)])
}

/**
 * Removes a key: tokens it signed stop verifying at the next start. Do it once the newest of
 * them has expired (IDM_TOKEN_TTL after the new key became active). The signing key cannot be
 * retired; activate another one first.
 */
export function retireSigningKey (keyFile: string, kid: string): void {
  const blocks = blocksOf(readFileSync(keyFile, 'utf8'))
  const index = blocks.findIndex((b) => b.kid === kid)
  if (index === -1) throw new SigningKeyError(`no key ${kid} in ${keyFile}`)
  if (index === 0) throw new SigningKeyError(`key ${kid} signs new tokens; activate another key before retiring it`)
  writeKeyFile(keyFile, blocks.filter((_, i) => i !== index))
}

/** Replaces the file atomically (temp file, fsync, rename, fsync of the directory), mode 0600. */
function writeKeyFile (keyFile: string, blocks: readonly Block[]): void {
  if (blocks.length === 0 || !blocks[0]!.private) throw new SigningKeyError('the first PEM block must be the private key that signs')
  const text = `${blocks.map((b) => b.pem).join('\n')}\n`
  signingKeysFromPem(text) // never write a file the service would refuse
  const tmp = join(dirname(keyFile), `.${basename(keyFile)}.${process.pid}.tmp`)
  rmSync(tmp, { force: true })
  writeFileSync(tmp, text, { mode: 0o600, flag: 'wx' })
  const fd = openSync(tmp, 'r')
  try { fsyncSync(fd) } finally { closeSync(fd) }
  renameSync(tmp, keyFile)
  try {
    const dir = openSync(dirname(keyFile), 'r')
    try { fsyncSync(dir) } finally { closeSync(dir) }
  } catch { /* not every platform can fsync a directory */ }
}
