/** The handler every `serve` program uses: ASCII a-z upper-cased, every other byte (UTF-8 or binary) unchanged. */
export function upper (request: Uint8Array): Buffer {
  return Buffer.from(request.map((byte) => byte >= 0x61 && byte <= 0x7a ? byte - 0x20 : byte))
}
