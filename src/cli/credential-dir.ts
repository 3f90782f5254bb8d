import { createHash } from 'node:crypto'
import { lstatSync, mkdirSync, mkdtempSync, readdirSync, rmdirSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { RunTaskError } from '../shared/errors.js'

/** Where the CLI keeps credential copies (kubeconfig, Coder token, SSH key): never the current directory. */
export interface CredentialDir {
  readonly path: string
  /** Called once the command is done: removes what this command no longer needs. */
  release(): void
}

const PREFIX = 'run-task-credentials-'
/** The commands that run a whole job in one process; the others share state across processes. */
const ONE_PROCESS = new Set(['all', 'smoke', 'e2e'])

/**
 * A private (0700) folder under the system temp folder. For a command that runs the whole
 * job in one process it is new, and removed when the command ends, on an error, and when
 * the process exits (after SIGINT or SIGTERM too). The split commands (provision, run,
 * collect, cleanup) share one per user and state folder, which cleanup empties and removes.
 * A folder left by a process that was killed outright (SIGKILL, a crash) is removed by the
 * next one-process command of the same user.
 */
export function credentialDirFor(command: string, stateDir: string): CredentialDir {
  if (ONE_PROCESS.has(command)) {
    removeOrphans()
    const dir = mkdtempSync(path.join(tmpdir(), `${PREFIX}${process.pid}-`))
    const remove = (): void => rmSync(dir, { recursive: true, force: true })
    process.on('exit', remove)
    return {
      path: dir,
      release: () => {
        process.off('exit', remove)
        remove()
      },
    }
  }
  const key = createHash('sha256').update(path.resolve(stateDir)).digest('hex').slice(0, 16)
  const dir = path.join(tmpdir(), `${PREFIX}uid${process.getuid?.() ?? 'user'}-${key}`)
  ensurePrivate(dir)
  return { path: dir, release: () => (command === 'cleanup' ? removeEmpty(dir) : undefined) }
}

/** Removes the one-process folders of this user whose process no longer runs. */
function removeOrphans(): void {
  // mkdtemp's six characters after the pid; the split commands' folder is `…uid<uid>-<key>`.
  const pattern = new RegExp(`^${PREFIX}(\\d+)-[A-Za-z0-9]{6}$`)
  for (const name of readdirSync(tmpdir())) {
    const pid = Number(pattern.exec(name)?.[1])
    if (!pid || isRunning(pid)) continue
    const dir = path.join(tmpdir(), name)
    try {
      if (process.getuid === undefined || lstatSync(dir).uid === process.getuid())
        rmSync(dir, { recursive: true, force: true })
    } catch {
      // Gone already, or not ours to remove.
    }
  }
}

function isRunning(pid: number): boolean {
  try {
    process.kill(pid, 0)
    return true
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM'
  }
}

/** Creates the folder 0700, or checks that an existing one is a real folder of this user that no one else can read. */
function ensurePrivate(dir: string): void {
  mkdirSync(dir, { recursive: true, mode: 0o700 })
  const stat = lstatSync(dir)
  const mine = process.getuid === undefined || stat.uid === process.getuid()
  if (!stat.isDirectory() || !mine || (stat.mode & 0o077) !== 0)
    throw new RunTaskError(
      'permission',
      `${dir} must be a folder of this user that only this user can read (mode 0700), to hold credential copies; remove it and run again.`,
    )
}

/** Removes the empty folders left once cleanup deleted a workspace's credential files, then the folder itself. */
function removeEmpty(dir: string): void {
  for (const name of readdirSync(dir)) {
    try {
      rmdirSync(path.join(dir, name))
    } catch {
      // Another workspace still has its credentials here.
    }
  }
  try {
    rmdirSync(dir)
  } catch {
    // Not empty: another workspace of this state folder is still provisioned.
  }
}
