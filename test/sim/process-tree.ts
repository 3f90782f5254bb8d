import { readdirSync, readFileSync } from 'node:fs'

/**
 * Kills a process and every process below it, with SIGKILL: what removing a container does to the processes in it
 * (the runtime kills its whole PID namespace and cgroup, kubelet pkg/kubelet/kuberuntime killContainer; Docker's
 * `docker rm -f` for a Coder template's container). A simulated command runs as a host process, and the toolkit's
 * wrapper puts the user's command in a session of its own, so killing the direct child alone would leave it running.
 * A process that double-forked away to init escapes; the simulators' READMEs say so.
 */
export function killProcessTree(rootPid: number): void {
  const children = new Map<number, number[]>()
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue
    let stat: string
    try {
      stat = readFileSync(`/proc/${entry}/stat`, 'utf8')
    } catch {
      continue // it exited while we looked
    }
    // Field 4 (ppid) follows the command name, which may hold spaces (proc(5)).
    const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1])
    children.set(ppid, [...(children.get(ppid) ?? []), Number(entry)])
  }
  const tree: number[] = []
  for (const queue = [rootPid]; queue.length > 0;) {
    const pid = queue.shift() as number
    tree.push(pid)
    queue.push(...(children.get(pid) ?? []))
  }
  for (const pid of tree)
    try {
      process.kill(pid, 'SIGKILL')
    } catch {
      // already gone
    }
}
