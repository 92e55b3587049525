// The package as a user gets it: packed from the sources alone (its prepack builds it), unpacked into an empty
// folder, and its own `switch` serving and calling. Offline: the package's dependencies resolve from this
// checkout's node_modules (a clean machine's npm cache after `npm ci` holds tarballs but not the registry
// metadata an `npm install --offline` of the tarball needs), and a scan of what it ships checks that every
// package it imports is one it declares.
import { execFile } from 'node:child_process'
import { cp, mkdir, mkdtemp, readdir, readFile, rm, symlink } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { promisify } from 'node:util'
import t from 'tap'
import { run, start, startSwitch } from './cli/spawn.js'

const exec = promisify(execFile)
const ROOT = fileURLToPath(new URL('../..', import.meta.url))
/** What a clone holds that the package is built from; tests, benchmarks and dist stay behind. */
const SOURCES = ['package.json', 'tsconfig.json', 'tsconfig.build.json', 'README.md', 'openapi.yaml', 'bin', 'protocol', 'server', 'lib', 'cli']

interface PackResult {
  filename: string
  files: Array<{ path: string }>
}

interface Manifest {
  name: string
  bin: Record<string, string>
  dependencies: Record<string, string>
}

async function jsFiles (dir: string): Promise<string[]> {
  const entries = await readdir(dir, { withFileTypes: true, recursive: true })
  return entries.filter((entry) => entry.isFile() && entry.name.endsWith('.js')).map((entry) => join(entry.parentPath, entry.name))
}

/** `@scope/name/sub` -> `@scope/name`, `name/sub` -> `name`. */
function packageOf (specifier: string): string {
  const parts = specifier.split('/')
  return specifier.startsWith('@') ? parts.slice(0, 2).join('/') : parts[0]
}

t.test('packed from the sources, unpacked into an empty folder, it serves and calls', async (t) => {
  const work = await mkdtemp(join(tmpdir(), 'switch-package-'))
  t.teardown(async () => { await rm(work, { recursive: true, force: true }) })
  const source = join(work, 'source')
  await mkdir(source)
  for (const entry of SOURCES) await cp(join(ROOT, entry), join(source, entry), { recursive: true })
  // The build tools (TypeScript, type packages) come from the checkout, as `npm ci` would have installed them.
  await symlink(join(ROOT, 'node_modules'), join(source, 'node_modules'))

  const { stdout } = await exec('npm', ['pack', '--json', '--offline', '--pack-destination', work], { cwd: source, maxBuffer: 16 * 1024 * 1024 })
  const [packed] = JSON.parse(stdout) as PackResult[]
  const files = packed.files.map((file) => file.path)
  t.ok(files.includes('dist/cli/commands.js'), 'prepack built the CLI')
  t.ok(files.includes('dist/server/index.js') && files.includes('dist/lib/index.d.ts'), 'and the server and the typed library')
  t.ok(files.includes('openapi.yaml') && files.includes('README.md'), 'with the API description and the README')
  t.same(files.filter((path) => /^(dist\/)?(test|bench)\//.test(path) || /\.ts$/.test(path) && !path.endsWith('.d.ts')), [], 'no tests, benchmarks or sources')

  const app = join(work, 'app')
  const installed = join(app, 'node_modules', 'switchbus')
  await mkdir(installed, { recursive: true })
  await exec('tar', ['-xzf', join(work, packed.filename), '-C', installed, '--strip-components=1'])
  // Resolved from the folder above the app, as from a parent node_modules: nothing is downloaded.
  await symlink(join(ROOT, 'node_modules'), join(work, 'node_modules'))

  const manifest = JSON.parse(await readFile(join(installed, 'package.json'), 'utf8')) as Manifest
  t.equal(manifest.name, 'switchbus')
  const imported = new Set<string>()
  for (const file of await jsFiles(join(installed, 'dist'))) {
    const text = await readFile(file, 'utf8')
    for (const [, from, dynamic] of text.matchAll(/\bfrom '([^'\s]+)'|\bimport\('([^'\s]+)'\)/g)) {
      const specifier = from ?? dynamic
      if (!specifier.startsWith('.') && !specifier.startsWith('node:')) imported.add(packageOf(specifier))
    }
  }
  t.ok(imported.has('fastify') && imported.has('@oclif/core'), 'the scan finds the imports')
  t.same([...imported].filter((name) => !(name in manifest.dependencies)), [], 'every package it imports is a dependency')

  const bin = join(installed, manifest.bin.switch)
  const { url } = await startSwitch(t, [], { bin })
  const service = start(t, ['serve', 'echo', '--program', 'cat', '--url', url], { bin })
  await service.line(/^serving echo$/)
  const called = await run(t, ['call', 'echo', '--body', 'from the package', '--url', url], { bin })
  t.same(called, { code: 0, signal: null, stdout: 'from the package\n', stderr: '' })
})
