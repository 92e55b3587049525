import { readFileSync } from 'node:fs'

/** Resident set size of a process in KiB, from /proc (Linux). */
export function rssKiB (pid: number): number {
  const match = /^VmRSS:\s+(\d+) kB$/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))
  if (match === null) throw new Error(`no VmRSS for process ${pid}`)
  return Number(match[1])
}

/** The soft limit on open files of this process (what each bench process may hold as sockets). */
export function openFilesLimit (): number {
  const match = /^Max open files\s+(\d+|unlimited)/m.exec(readFileSync('/proc/self/limits', 'utf8'))
  if (match === null || match[1] === 'unlimited') return Number.POSITIVE_INFINITY
  return Number(match[1])
}

/** The most resident memory the process has had (its high-water mark), in KiB, from /proc (Linux). */
export function peakRssKiB (pid: number): number {
  const match = /^VmHWM:\s+(\d+) kB$/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))
  if (match === null) throw new Error(`no VmHWM for process ${pid}`)
  return Number(match[1])
}
