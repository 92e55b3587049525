import { createHash, randomBytes, scrypt, timingSafeEqual, type ScryptOptions } from 'node:crypto'

// Secrets people choose are stored as salted scrypt hashes: slow on purpose, so a leaked auth file does not
// give them away. API keys are 32 random bytes: a fast hash (SHA-256) is enough, no guessing can find them.

/** scrypt cost: N=2^15, r=8, p=1 takes ~50 ms and 32 MiB, OWASP's minimum. Stored in the hash, so it may change. */
const SCRYPT = { N: 1 << 15, r: 8, p: 1 }
const KEY_BYTES = 32
const SALT_BYTES = 16
const API_KEY_PREFIX = 'sk_'

async function derive (secret: string, salt: Buffer, options: { N: number, r: number, p: number }): Promise<Buffer> {
  const scryptOptions: ScryptOptions = { ...options, maxmem: 256 * options.N * options.r }
  return await new Promise((resolve, reject) => {
    scrypt(secret, salt, KEY_BYTES, scryptOptions, (error, key) => { if (error === null) resolve(key); else reject(error) })
  })
}

/** `scrypt$N$r$p$SALT$KEY` (base64url): the line an auth file stores for a secret. */
export async function hashSecret (secret: string): Promise<string> {
  const salt = randomBytes(SALT_BYTES)
  const key = await derive(secret, salt, SCRYPT)
  return ['scrypt', SCRYPT.N, SCRYPT.r, SCRYPT.p, salt.toString('base64url'), key.toString('base64url')].join('$')
}

const SCRYPT_HASH = /^scrypt\$(\d+)\$(\d+)\$(\d+)\$([A-Za-z0-9_-]+)\$([A-Za-z0-9_-]+)$/
const SHA256_HASH = /^sha256\$([0-9a-f]{64})$/

/** What is wrong with a stored secret hash, if anything (for the auth file's validation). */
export function secretHashProblem (hash: string): string | undefined {
  const match = SCRYPT_HASH.exec(hash)
  if (match === null) return 'is not a scrypt hash (make one with `switch auth hash`)'
  const N = Number(match[1])
  if (N < 2 || (N & (N - 1)) !== 0 || N > 1 << 20) return 'has a scrypt cost N that is not a power of two up to 2^20'
  if (Number(match[2]) < 1 || Number(match[2]) > 32 || Number(match[3]) < 1 || Number(match[3]) > 16) return 'has scrypt parameters out of range'
  return undefined
}

export function apiKeyHashProblem (hash: string): string | undefined {
  return SHA256_HASH.test(hash) ? undefined : 'is not a sha256$<64 hex digits> hash (make one with `switch auth add NAME --api-key`)'
}

/** Whether `secret` is the one `hash` (validated by secretHashProblem) was made from; constant time. */
export async function verifySecret (secret: string, hash: string): Promise<boolean> {
  const match = SCRYPT_HASH.exec(hash)
  if (match === null) return false
  const expected = Buffer.from(match[5], 'base64url')
  const key = await derive(secret, Buffer.from(match[4], 'base64url'), { N: Number(match[1]), r: Number(match[2]), p: Number(match[3]) })
  return key.length === expected.length && timingSafeEqual(key, expected)
}

/** A new API key: what the client presents; only its hash is stored. */
export function generateApiKey (): string {
  return API_KEY_PREFIX + randomBytes(32).toString('base64url')
}

/** A new secret for a principal, for people who would rather not choose one. */
export function generateSecret (): string {
  return randomBytes(18).toString('base64url')
}

/** The SHA-256 digest of an API key, to compare in constant time against the stored ones. */
export function apiKeyDigest (key: string): Buffer {
  return createHash('sha256').update(key).digest()
}

export function hashApiKey (key: string): string {
  return `sha256$${apiKeyDigest(key).toString('hex')}`
}

/** Whether `digest` (apiKeyDigest) matches the stored `sha256$…` hash; constant time. */
export function digestMatches (digest: Buffer, hash: string): boolean {
  const match = SHA256_HASH.exec(hash)
  if (match === null) return false
  return timingSafeEqual(digest, Buffer.from(match[1], 'hex'))
}
