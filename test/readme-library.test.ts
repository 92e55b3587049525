// Runs the README's library example as written, against a live switch: only the import (the package's name,
// this checkout's build here) and the URL (a free port) are swapped. It must print what its comment says and end.
import { execFile } from 'node:child_process'
import { readFileSync } from 'node:fs'
import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { promisify } from 'node:util'
import t from 'tap'
import { startSwitch } from '../server/index.js'

const exec = promisify(execFile)
const LIBRARY = new URL('../lib/index.js', import.meta.url).href

function libraryExample (): string {
  const readme = readFileSync(new URL('../../README.md', import.meta.url), 'utf8')
  const start = readme.indexOf('<!-- library:start -->')
  const end = readme.indexOf('<!-- library:end -->')
  const block = /^```ts\n([\s\S]*?)^```$/m.exec(readme.slice(start, end))
  if (start < 0 || end < start || block === null) throw new Error('README.md has no library example between library markers')
  return block[1]
}

t.test('the README library example runs as written and ends', async (t) => {
  const example = libraryExample()
  t.match(example, /from 'switchbus'/, 'it imports the package by its name')
  t.match(example, /'http:\/\/127\.0\.0\.1:8080'/)
  const running = await startSwitch({ port: 0 })
  t.teardown(() => running.stop())
  const dir = await mkdtemp(join(tmpdir(), 'switch-readme-'))
  t.teardown(async () => { await rm(dir, { recursive: true, force: true }) })
  // Plain JavaScript as written (no type annotations), run as a module for its top-level await.
  const script = example.replace(`from 'switchbus'`, `from '${LIBRARY}'`).replace(`'http://127.0.0.1:8080'`, `'${running.url}'`)
  const file = join(dir, 'example.mjs')
  await writeFile(file, script)
  const { stdout, stderr } = await exec(process.execPath, [file], { timeout: 30_000 })
  t.equal(stdout, 'site/rack1/temp 21.5\n', 'prints what its comment says')
  t.equal(stderr, '')
})
