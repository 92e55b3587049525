// The socket's line framing, cut at every byte: each line whole and once, limits kept across chunks.
import t from 'tap'
import { LineError, LineReader } from '../../protocol/lines.js'

function readAll (reader: LineReader, chunks: Buffer[]): string[] {
  const lines: string[] = []
  for (const chunk of chunks) reader.push(chunk, (line) => { lines.push(line) })
  return lines
}

/** The LineError reading the chunks ends with, if any. */
function refusal (reader: LineReader, chunks: Buffer[]): LineError | undefined {
  try {
    readAll(reader, chunks)
    return undefined
  } catch (error) {
    if (error instanceof LineError) return error
    throw error
  }
}

t.test('lines come out whole however the bytes are cut', async (t) => {
  const text = '{"a":"déjà vu ✓ 𝄞"}\n\n{"b":2}\n[1,2]\n'
  const bytes = Buffer.from(text)
  const expected = ['{"a":"déjà vu ✓ 𝄞"}', '', '{"b":2}', '[1,2]']
  for (let cut = 0; cut <= bytes.length; cut++) {
    t.same(readAll(new LineReader(100), [bytes.subarray(0, cut), bytes.subarray(cut)]), expected, `cut at ${cut}`)
  }
  t.same(readAll(new LineReader(100), [...bytes].map((byte) => Buffer.from([byte]))), expected, 'a byte at a time')
})

t.test('a line waits for its newline', async (t) => {
  const reader = new LineReader(100)
  t.same(readAll(reader, [Buffer.from('{"unfinished":')]), [])
  t.same(readAll(reader, [Buffer.from('true}\n{"next"')]), ['{"unfinished":true}'])
})

t.test('limits: a line over the limit, in one chunk or grown across many; text that is not UTF-8', async (t) => {
  t.match(refusal(new LineReader(8), [Buffer.from('123456789\n')]), { tooLong: true, message: 'a frame is over 8 bytes' })
  t.same(readAll(new LineReader(8), [Buffer.from('12345678\n')]), ['12345678'], 'at the limit is taken')
  const growing = new LineReader(8)
  t.equal(refusal(growing, [Buffer.from('1234')]), undefined)
  t.match(refusal(growing, [Buffer.from('56789')]), { tooLong: true }, 'refused before its end comes')
  t.match(refusal(new LineReader(8), [Buffer.from('1234'), Buffer.from('5678'), Buffer.from('9\n')]), { tooLong: true }, 'whole, across chunks')
  t.match(refusal(new LineReader(8), [Buffer.from([0x7b, 0xff, 0x7d, 0x0a])]), { tooLong: false, message: 'a frame is not UTF-8' })
  t.match(refusal(new LineReader(8), [Buffer.from([0xe2, 0x9c]), Buffer.from([0x0a])]), { tooLong: false }, 'a character cut short by the newline')
})
