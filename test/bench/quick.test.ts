// The benchmark harness still runs end to end: `--quick` as a real process, every figure accounted for.
// It judges no number: figures taken on a busy test machine mean nothing.
import { spawn } from 'node:child_process'
import { mkdtemp, readFile, readdir, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import t from 'tap'
import { catalog, type Report } from '../../bench/report.js'
import { settingsFor } from '../../bench/settings.js'

const RUN = fileURLToPath(new URL('../../bench/run.js', import.meta.url))
// Every group runs, a few seconds each, with up to a dozen processes starting: on a busy machine that takes a while.
const KILL_AFTER_MS = 280_000
t.setTimeout(KILL_AFTER_MS + 20_000)

t.test('bench --quick produces a complete table and JSON', async (t) => {
  const out = await mkdtemp(join(tmpdir(), 'switch-bench-test-'))
  t.teardown(async () => { await rm(out, { recursive: true, force: true }) })

  const child = spawn(process.execPath, [RUN, '--quick', '--out', out], { stdio: ['ignore', 'pipe', 'pipe'] })
  const killer = setTimeout(() => { child.kill('SIGKILL') }, KILL_AFTER_MS)
  t.teardown(() => { clearTimeout(killer); child.kill('SIGKILL') })
  let stdout = ''
  let stderr = ''
  child.stdout.setEncoding('utf8').on('data', (chunk: string) => { stdout += chunk })
  child.stderr.setEncoding('utf8').on('data', (chunk: string) => { stderr += chunk })
  const code = await new Promise<number | null>((resolve) => { child.on('close', resolve) })
  t.equal(code, 0, 'exits 0', { stderr })

  const files = await readdir(out)
  t.ok(files.includes('quick-latest.json'), 'writes quick-latest.json')
  t.ok(files.some((file) => /^quick-\d{4}-.*\.json$/.test(file)), 'and a dated copy')
  const report = JSON.parse(await readFile(join(out, 'quick-latest.json'), 'utf8')) as Report
  t.equal(report.mode, 'quick')
  t.same(report.failures, {}, 'no group failed')
  t.ok(report.machine.cores > 0 && report.machine.node === process.version, 'names the machine')

  const expected = catalog(settingsFor('quick')).map((row) => row.id)
  t.same(report.rows.map((row) => row.id), expected, 'every figure, in order')
  for (const row of report.rows) {
    // Differences of RSS: with a quick run's few hundred waiters, within what the allocator hands back meanwhile,
    // so a quick run may see them below zero. Every other figure is a count, a rate or a time.
    const difference = row.id.startsWith('waiters.per')
    t.ok(row.value !== null && Number.isFinite(row.value) && (difference || row.value >= 0), `${row.id} is a number`, { value: row.value, note: row.note })
    t.ok(stdout.includes(row.figure), `${row.id} is in the printed table`)
  }
  const ceiling = report.rows.find((row) => row.id === 'ceiling.c50.rps')
  t.equal(ceiling?.ratio, 1, 'ratios are to the ceiling measured in the same run')
})
