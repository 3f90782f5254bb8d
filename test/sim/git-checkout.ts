import { execFileSync } from 'node:child_process'
import { existsSync } from 'node:fs'

/**
 * What a workspace's clone step does (DWO's project-clone, a Coder template's
 * git-clone module): a local repository (tests use bare repos) is really cloned;
 * any other remote gets an empty repository with that origin, since the
 * simulators never touch the network.
 */
export function simulateClone(remote: string, dir: string): void {
  if (existsSync(`${dir}/.git`)) return
  const local = remote.startsWith('file://') ? remote.slice('file://'.length) : remote
  if (local.startsWith('/') && existsSync(local)) {
    execFileSync('git', ['clone', '-q', remote, dir], { stdio: 'pipe' })
    return
  }
  execFileSync('git', ['init', '-q', dir], { stdio: 'pipe' })
  execFileSync('git', ['-C', dir, 'remote', 'add', 'origin', remote], { stdio: 'pipe' })
}
