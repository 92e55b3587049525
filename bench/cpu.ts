import { execFileSync } from 'node:child_process'
import { readFileSync } from 'node:fs'

let ticksPerSecond: number | undefined

/** The kernel's clock ticks per second, the unit of /proc/PID/stat's CPU times (100 nearly everywhere). */
function clockTicks (): number {
  if (ticksPerSecond === undefined) {
    let ticks = 100
    try {
      ticks = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim())
    } catch {
      // No getconf: keep the usual value.
    }
    ticksPerSecond = Number.isFinite(ticks) && ticks > 0 ? ticks : 100
  }
  return ticksPerSecond
}

/**
 * CPU time (user + system, all threads) a process has used so far, in microseconds, from /proc/PID/stat (Linux).
 * Read from outside, so it works alike for Node processes and for brokers written in C or Go.
 */
export function cpuMicros (pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8')
  // The command name (field 2) is in parentheses and may hold spaces: count fields after its closing one.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ')
  // Fields 14 and 15 of the whole line (utime, stime) are 12 and 13 after the name.
  const ticks = Number(fields[11]) + Number(fields[12])
  return ticks / clockTicks() * 1e6
}
