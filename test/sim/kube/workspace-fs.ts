import { mkdirSync, rmSync } from 'node:fs'
import path from 'node:path'

/**
 * The folder that stands in for a workspace container's filesystem:
 * `projects/` (PROJECTS_ROOT, kept across stop and start), `home/` and `tmp/`.
 */
export class WorkspaceFolders {
  constructor(
    readonly root: string,
    /** The container PATH: the simulated image's tools first. */
    private readonly path: string,
  ) {}

  dir(namespace: string, name: string): string {
    return path.join(this.root, namespace, name)
  }

  /**
   * Prepares the folder for a pod start. A container's own filesystem (`/tmp`, and `$HOME` unless it is on a
   * persistent home volume) is new on every start, as a new pod's is; `/projects` is a volume and is kept.
   */
  start(namespace: string, name: string, options: { keepHome: boolean }): string {
    const dir = this.dir(namespace, name)
    const fresh = options.keepHome ? ['tmp'] : ['tmp', 'home']
    for (const sub of fresh) rmSync(path.join(dir, sub), { recursive: true, force: true })
    for (const sub of ['home', 'tmp', 'projects']) mkdirSync(path.join(dir, sub), { recursive: true })
    return dir
  }

  /**
   * A container's environment: its filesystem (PATH, HOME, TMPDIR) and DWO's common variables; PROJECTS_ROOT and
   * PROJECT_SOURCE only when `projectSource` is given (a mountSources container; DWO pkg/library/container/mountSources.go).
   */
  env(namespace: string, name: string, projectSource?: string): Record<string, string> {
    const dir = this.dir(namespace, name)
    const projectsRoot = path.join(dir, 'projects')
    return {
      PATH: this.path,
      HOME: path.join(dir, 'home'),
      TMPDIR: path.join(dir, 'tmp'),
      ...(projectSource === undefined
        ? {}
        : { PROJECTS_ROOT: projectsRoot, PROJECT_SOURCE: path.join(projectsRoot, projectSource) }),
      DEVWORKSPACE_NAME: name,
      DEVWORKSPACE_NAMESPACE: namespace,
    }
  }

  /** Empties /projects: what an emptyDir (ephemeral storage) loses when the pod goes. */
  wipeProjects(namespace: string, name: string): void {
    rmSync(path.join(this.dir(namespace, name), 'projects'), { recursive: true, force: true })
    mkdirSync(path.join(this.dir(namespace, name), 'projects'), { recursive: true })
  }

  remove(namespace: string, name: string): void {
    rmSync(this.dir(namespace, name), { recursive: true, force: true })
  }
}
