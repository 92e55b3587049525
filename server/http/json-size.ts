// The size of an answer as encoded, measured without building it: a payload's JSON string can be six times its
// bytes (a control byte becomes \u0001), base64 is 4/3 of them.
import { isUtf8 } from 'node:buffer'

/** Bytes each byte of UTF-8 text takes inside a JSON string, as JSON.stringify writes it. */
const ESCAPED = new Uint8Array(256).fill(1)
for (let byte = 0; byte < 0x20; byte++) ESCAPED[byte] = 6
for (const byte of [0x08, 0x09, 0x0a, 0x0c, 0x0d, 0x22, 0x5c]) ESCAPED[byte] = 2

/** The same for bytes that are not valid UTF-8: each may decode to U+FFFD, three bytes. */
const ESCAPED_LOOSE = ESCAPED.map((size, byte) => byte >= 0x80 ? 3 : size)

/**
 * Bytes of `JSON.stringify(payload.toString('utf8'))`, quotes included: exact for valid UTF-8, an upper bound
 * otherwise (invalid sequences become replacement characters). A caller that checked `utf8` already says so.
 */
export function jsonStringSize (payload: Buffer, utf8 = isUtf8(payload)): number {
  const table = utf8 ? ESCAPED : ESCAPED_LOOSE
  let size = 2
  for (let i = 0; i < payload.length; i++) size += table[payload[i]]
  return size
}

export function base64Size (bytes: number): number {
  return 4 * Math.ceil(bytes / 3)
}

/** Bytes of a small value's JSON (metadata, never a payload). */
export function jsonSize (value: unknown): number {
  return Buffer.byteLength(JSON.stringify(value))
}
