// `npm run bench`: measures the switch against this machine's ceiling and against its peers (nats-server and
// Mosquitto when installed, Aedes), prints one table, and writes it as JSON (and, after a full run, into
// BENCHMARKS.md). See BENCHMARKS.md for the figures.
import { mkdir, readFile, writeFile } from 'node:fs/promises'
import { loadavg } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { figures, type Context } from './figures.js'
import { describe } from './ipc.js'
import type { RoleName } from './roles/index.js'
import { catalog, evaluate, machine, machineLine, markdownTable, textTable, type Report, type Row } from './report.js'
import { GROUPS, parseOptions, settingsFor, USAGE, UsageError, type Options } from './settings.js'

const ROOT = fileURLToPath(new URL('../../', import.meta.url))
const MARKDOWN = join(ROOT, 'BENCHMARKS.md')
const BEGIN = '<!-- bench:latest:begin -->'
const END = '<!-- bench:latest:end -->'

function log (line: string): void {
  process.stderr.write(`[bench] ${line}\n`)
}

async function measure (options: Options): Promise<Report> {
  const settings = settingsFor(options.mode)
  const started = Date.now()
  const rows: Row[] = catalog(settings).map((spec) => ({ ...spec, value: null, targets: [] }))
  const byId = new Map(rows.map((row) => [row.id, row]))
  const report: Report = {
    harness: 'switch-bench/1',
    date: new Date(started).toISOString(),
    mode: options.mode,
    seconds: 0,
    machine: machine(),
    settings,
    rows,
    details: {},
    failures: {}
  }
  const row = (id: string): Row => {
    const found = byId.get(id)
    if (found === undefined) throw new Error(`no figure ${id} in the table`)
    return found
  }
  const profiles = join(options.out, 'profiles')
  const context: Context = {
    settings,
    execArgvFor: (role: RoleName) => options.cpuProf && role === 'switch' ? ['--cpu-prof', `--cpu-prof-dir=${profiles}`] : [],
    set: (id, value) => { row(id).value = value },
    skip: (prefix, reason) => {
      for (const each of rows) if (each.id.startsWith(prefix) && each.value === null) each.note ??= reason
    },
    note: (id, text) => { row(id).note = text },
    detail: (key, value) => { report.details[key] = value },
    log
  }
  log(`${options.mode} run on ${machineLine(report.machine)}`)
  for (const group of GROUPS) {
    if (!options.groups.includes(group)) {
      context.skip(`${group}.`, 'not run (--only)')
      continue
    }
    const start = Date.now()
    log(`${group}…`)
    try {
      await figures[group](context)
      log(`${group} done in ${((Date.now() - start) / 1000).toFixed(1)} s`)
    } catch (error) {
      const message = describe(error)
      report.failures[group] = message
      context.skip(`${group}.`, `failed: ${message.split('\n')[0]}`)
      log(`${group} FAILED: ${message}`)
    }
  }
  evaluate(rows, settings)
  report.machine.loadEnd = loadavg()[0]
  report.seconds = (Date.now() - started) / 1000
  return report
}

async function save (report: Report, options: Options): Promise<string> {
  await mkdir(options.out, { recursive: true })
  const prefix = report.mode === 'quick' ? 'quick-' : ''
  const json = `${JSON.stringify(report, null, 2)}\n`
  const file = join(options.out, `${prefix}${report.date.replaceAll(':', '-')}.json`)
  await writeFile(file, json)
  await writeFile(join(options.out, `${prefix}latest.json`), json)
  return file
}

/** Puts the table between the markers of BENCHMARKS.md, leaving the rest (reproduction, history) alone. */
async function updateMarkdown (report: Report): Promise<void> {
  const text = await readFile(MARKDOWN, 'utf8')
  const begin = text.indexOf(BEGIN)
  const end = text.indexOf(END)
  if (begin === -1 || end < begin) {
    log(`BENCHMARKS.md has no ${BEGIN} … ${END} block: not updated`)
    return
  }
  const block = [
    BEGIN,
    `Run ${report.date} (${report.seconds.toFixed(0)} s) on ${machineLine(report.machine)}.`,
    '',
    markdownTable(report),
    ''
  ].join('\n')
  await writeFile(MARKDOWN, text.slice(0, begin) + block + text.slice(end))
}

async function main (): Promise<number> {
  let options: Options
  try {
    options = parseOptions(process.argv.slice(2), join(ROOT, 'bench', 'results'))
  } catch (error) {
    if (!(error instanceof UsageError)) throw error
    process.stderr.write(`${error.message}\n${USAGE}\n`)
    return 2
  }
  const report = await measure(options)
  process.stdout.write(`\n${textTable(report)}\n\n${machineLine(report.machine)}\n`)
  const file = await save(report, options)
  log(`results: ${file}`)
  if (options.markdown) {
    await updateMarkdown(report)
    log('BENCHMARKS.md updated')
  }
  const failed = Object.keys(report.failures)
  if (failed.length > 0) log(`failed: ${failed.join(', ')}`)
  return failed.length > 0 ? 1 : 0
}

// Ctrl-C reaches the bench processes too (same process group); each stops itself.
process.on('SIGINT', () => { process.exit(130) })
process.on('SIGTERM', () => { process.exit(143) })

main().then((code) => { process.exitCode = code }, (error: unknown) => {
  process.stderr.write(`${describe(error)}\n`)
  process.exitCode = 1
})
