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

  ensure(namespace: string, name: string, projects: string[]): string {
    const dir = this.dir(namespace, name)
    for (const sub of ['home', 'tmp', 'projects', ...projects.map((p) => path.join('projects', p))])
      mkdirSync(path.join(dir, sub), { recursive: true })
    return dir
  }

  /** The container environment DWO gives every mountSources container. */
  env(namespace: string, name: string, projects: string[]): Record<string, string> {
    const dir = this.dir(namespace, name)
    const projectsRoot = path.join(dir, 'projects')
    return {
      PATH: this.path,
      HOME: path.join(dir, 'home'),
      TMPDIR: path.join(dir, 'tmp'),
      PROJECTS_ROOT: projectsRoot,
      PROJECT_SOURCE: projects[0] ? path.join(projectsRoot, projects[0]) : projectsRoot,
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
