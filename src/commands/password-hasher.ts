/**
 * Password hashing with scrypt. The cost is the operator's trade-off (configuration), and it is
 * stored inside every hash, so a hash made with weaker parameters is recognised and upgraded on
 * the next successful login.
 *
 * Hashes are in scrypt-kdf's self-describing 96-byte format (base64 here), which Colin
 * Percival's scrypt header format inspired, so hashes stored by earlier versions (made with the
 * scrypt-kdf package) verify, and the package could verify ours:
 *
 *   0  'scrypt'  6 bytes      16  salt      32 bytes
 *   6  version   1 byte (0)   48  checksum  16 bytes: SHA-256(bytes 0–47), first half
 *   7  logN      1 byte       64  HMAC-SHA256(bytes 0–63), keyed with bytes 32–63 of
 *   8  r         u32 BE                     scrypt(password, salt, 64 bytes, N, r, p)
 *   12 p         u32 BE
 *
 * We compute it ourselves rather than through scrypt-kdf because its verify makes several
 * thread-pool round trips (WebCrypto SHA-256, then scrypt, then a WebCrypto HMAC import and sign)
 * where only scrypt is worth leaving the main thread for: here each hash or verification is one
 * `crypto.scrypt` call, the SHA-256 and HMAC (microseconds) run inline. Under a login storm that
 * keeps the thread pool doing only KDF work, in the order requests arrived.
 *
 * How many KDF computations run at once: libuv's thread pool (UV_THREADPOOL_SIZE, default 4)
 * runs them; scrypt is CPU- and memory-bound, so more of them than there are cores only share the
 * cores and multiply the memory (128·N·r bytes each: 128 MiB at the default N=2^17, r=8) without
 * adding throughput. `concurrency` (default: the number of cores, os.availableParallelism())
 * caps how many this hasher hands to the pool; the rest wait in a FIFO queue here. That keeps
 * pool threads free for the rest of the process (file system, DNS) when the pool is larger than
 * the core count, and bounds the memory a burst of logins can take. On a machine with more cores
 * than threads in the pool, raise UV_THREADPOOL_SIZE to at least the core count + 1, or the KDF
 * cannot use every core.
 */
import { createHash, createHmac, randomBytes, scrypt, timingSafeEqual } from 'node:crypto'
import { availableParallelism } from 'node:os'

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

export interface PasswordHasherOptions {
  /** KDF computations in flight at once (default: the number of cores). */
  readonly concurrency?: number
}

const FORMAT_LENGTH = 96
const MAGIC = Buffer.from('scrypt')
const KEY_LENGTH = 64
/** The configuration refuses costs above 1 GiB per hash; a stored hash asking for more is not ours. */
const MAX_MEMORY = 2 ** 30

interface Parsed { readonly cost: ScryptCost, readonly salt: Buffer, readonly prefix: Buffer, readonly mac: Buffer }

/** The parameters and salt of a stored hash, or null when it is not a well-formed one. */
function parse (stored: string): Parsed | null {
  const bytes = Buffer.from(stored, 'base64')
  if (bytes.length !== FORMAT_LENGTH || !bytes.subarray(0, 6).equals(MAGIC) || bytes[6] !== 0) return null
  const cost = { logN: bytes.readUInt8(7), r: bytes.readUInt32BE(8), p: bytes.readUInt32BE(12) }
  if (cost.logN < 1 || cost.logN > 30 || cost.r < 1 || cost.p < 1 || 128 * 2 ** cost.logN * cost.r > MAX_MEMORY || cost.r * cost.p >= 2 ** 30) return null
  const checksum = createHash('sha256').update(bytes.subarray(0, 48)).digest().subarray(0, 16)
  if (!timingSafeEqual(checksum, bytes.subarray(48, 64))) return null
  return { cost, salt: bytes.subarray(16, 48), prefix: bytes.subarray(0, 64), mac: bytes.subarray(64, 96) }
}

/** A FIFO limit on concurrent async work. */
function limiter (max: number): <T>(task: () => Promise<T>) => Promise<T> {
  let running = 0
  const waiting: Array<() => void> = []
  return async <T>(task: () => Promise<T>): Promise<T> => {
    if (running >= max) await new Promise<void>(resolve => waiting.push(resolve))
    else running++
    try {
      return await task()
    } finally {
      const next = waiting.shift()
      if (next !== undefined) next() // the slot passes straight to the next in line
      else running--
    }
  }
}

export async function createPasswordHasher (cost: ScryptCost, options: PasswordHasherOptions = {}): Promise<PasswordHasher> {
  const params = { logN: cost.logN, r: cost.r, p: cost.p }
  const limit = limiter(Math.max(1, Math.floor(options.concurrency ?? availableParallelism())))

  const derive = async (password: string, salt: Buffer, c: ScryptCost): Promise<Buffer> => await limit(async () =>
    await new Promise<Buffer>((resolve, reject) => {
      const N = 2 ** c.logN
      // Node refuses work above maxmem (default 32 MiB); scrypt needs 128·N·r plus 128·r·p.
      scrypt(password, salt, KEY_LENGTH, { N, r: c.r, p: c.p, maxmem: 128 * N * c.r + 128 * c.r * c.p + 2 ** 20 }, (err, key) => {
        if (err === null) resolve(key)
        else reject(err)
      })
    }))

  const mac = (key: Buffer, prefix: Buffer): Buffer => createHmac('sha256', key.subarray(32)).update(prefix).digest()

  const hash = async (password: string): Promise<string> => {
    const out = Buffer.alloc(FORMAT_LENGTH)
    MAGIC.copy(out, 0)
    out.writeUInt8(0, 6)
    out.writeUInt8(params.logN, 7)
    out.writeUInt32BE(params.r, 8)
    out.writeUInt32BE(params.p, 12)
    randomBytes(32).copy(out, 16)
    createHash('sha256').update(out.subarray(0, 48)).digest().copy(out, 48, 0, 16)
    const key = await derive(password.normalize('NFKC'), out.subarray(16, 48), params)
    mac(key, out.subarray(0, 64)).copy(out, 64)
    return out.toString('base64')
  }
  const decoy = await hash(randomBytes(32).toString('base64'))

  const verify = async (stored: string, password: string): Promise<boolean> => {
    const parsed = parse(stored)
    if (parsed === null) return false // a malformed stored hash never authenticates
    try {
      const key = await derive(password.normalize('NFKC'), parsed.salt, parsed.cost)
      return timingSafeEqual(mac(key, parsed.prefix), parsed.mac)
    } catch {
      return false
    }
  }

  return {
    hash,
    verify,
    needsRehash (stored) {
      const parsed = parse(stored)
      if (parsed === null) return true
      const used = parsed.cost
      return used.logN < params.logN || used.r < params.r || used.p < params.p
    },
    async burn (password) {
      await verify(decoy, password)
    }
  }
}
