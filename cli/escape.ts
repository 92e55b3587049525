// One message, one line: how the commands that print messages (receive, subscribe) keep a payload on its line.
import { isUtf8 } from 'node:buffer'

const ESCAPES: Record<string, string> = { '\\': '\\\\', '\n': '\\n', '\r': '\\r', '\t': '\\t' }

function hex (code: number): string {
  return `\\x${code.toString(16).padStart(2, '0')}`
}

/**
 * The payload on one line, escaped as C and `printf %b` read it back: `\\`, `\n`, `\r`, `\t`, other control
 * characters as `\xHH`. A payload that is not UTF-8 text has every byte outside printable ASCII as `\xHH`.
 */
export function escapePayload (payload: Buffer): string {
  if (isUtf8(payload)) {
    // eslint-disable-next-line no-control-regex
    return payload.toString('utf8').replace(/[\\\n\r\t\x00-\x1f\x7f]/g, (char) => ESCAPES[char] ?? hex(char.charCodeAt(0)))
  }
  let text = ''
  for (const byte of payload) {
    const char = String.fromCharCode(byte)
    text += ESCAPES[char] ?? (byte < 0x20 || byte >= 0x7f ? hex(byte) : char)
  }
  return text
}
