/**
 * CPU time from /proc, for the load benches: what a set of processes spent on the cores, to compare with the
 * wall time they took. Linux only, as the bench machine is.
 */
import { execFileSync } from 'node:child_process'
import { readFileSync } from 'node:fs'

const TICKS_PER_SECOND = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100

/** The sum of some fields of /proc/<pid>/stat (proc(5) numbering), as milliseconds. */
function statMs(pid: number | 'self', fieldNumbers: readonly number[]): number {
  const stat = readFileSync(`/proc/${String(pid)}/stat`, 'utf8')
  // The fields after the command name (which may hold spaces) start at field 3, the state.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ')
  const ticks = fieldNumbers.reduce((sum, n) => sum + Number(fields[n - 3]), 0)
  return (ticks * 1000) / TICKS_PER_SECOND
}

/** User + system CPU of a process and of the children it has waited for (utime, stime, cutime, cstime). */
export const processTreeCpuMs = (pid: number): number => statMs(pid, [14, 15, 16, 17])

/** User + system CPU of the children this process has waited for: the step processes it spawned. */
export const waitedChildrenCpuMs = (): number => statMs('self', [16, 17])

/** User + system CPU of this process. */
export const ownCpuMs = (): number => {
  const usage = process.cpuUsage()
  return (usage.user + usage.system) / 1000
}

/** The machine's busy and total CPU milliseconds so far, over every core (/proc/stat's `cpu` line). */
export function machineCpuMs(): { busy: number; total: number } {
  const line = readFileSync('/proc/stat', 'utf8').split('\n')[0] as string
  // user nice system idle iowait irq softirq steal (proc(5)); guest time is already inside user.
  const ticks = line.trim().split(/\s+/).slice(1, 9).map(Number)
  const total = ticks.reduce((sum, t) => sum + t, 0)
  const idle = (ticks[3] ?? 0) + (ticks[4] ?? 0)
  return { busy: ((total - idle) * 1000) / TICKS_PER_SECOND, total: (total * 1000) / TICKS_PER_SECOND }
}
