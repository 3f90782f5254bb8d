import type { V1Container, V1Pod } from '@kubernetes/client-node'
import { WorkspaceStartError } from '../../errors.js'

/** Pod settings that reach the node, refused unless `allow-unsafe-pod` names them. `privileged` is never allowed. */
export const UNSAFE_POD_FIELDS = ['allowPrivilegeEscalation', 'hostPath', 'hostNetwork', 'hostPID', 'hostIPC'] as const
export type UnsafePodField = (typeof UNSAFE_POD_FIELDS)[number]

/** One unsafe setting: which field, and where (container, volume or pod). */
export interface UnsafeFinding {
  readonly field: UnsafePodField | 'privileged'
  readonly where: string
}

/** What the workspace pod says about running as root, recorded in meta.json. */
export interface PodSecurity {
  /** `runAsNonRoot` of the pod's securityContext, and of the command's container; null when unset. */
  readonly runAsNonRoot: {
    readonly pod: boolean | null
    readonly container: boolean | null
    /** The container's value, else the pod's (Kubernetes' precedence); null when neither sets it. */
    readonly effective: boolean | null
  }
  /** Unsafe settings the pod has that `allow-unsafe-pod` allowed. */
  readonly allowedUnsafe: readonly string[]
}

/** Every unsafe setting of the pod, init containers included. */
export function unsafePodFindings(pod: V1Pod): UnsafeFinding[] {
  const spec = pod.spec
  const containers: V1Container[] = [...(spec?.initContainers ?? []), ...(spec?.containers ?? [])]
  const findings: UnsafeFinding[] = []
  for (const c of containers) {
    if (c.securityContext?.privileged === true)
      findings.push({ field: 'privileged', where: `container ${c.name}: securityContext.privileged is true` })
    if (c.securityContext?.allowPrivilegeEscalation === true)
      findings.push({
        field: 'allowPrivilegeEscalation',
        where: `container ${c.name}: securityContext.allowPrivilegeEscalation is true`,
      })
  }
  for (const v of spec?.volumes ?? []) {
    if (!v.hostPath) continue
    const users = containers.filter((c) => c.volumeMounts?.some((m) => m.name === v.name)).map((c) => c.name)
    findings.push({
      field: 'hostPath',
      where: `volume ${v.name}: hostPath ${v.hostPath.path}${users.length ? ` (mounted by container ${users.join(', ')})` : ''}`,
    })
  }
  for (const field of ['hostNetwork', 'hostPID', 'hostIPC'] as const)
    if (spec?.[field] === true) findings.push({ field, where: `pod: spec.${field} is true` })
  return findings
}

/**
 * Refuses a pod with a setting that reaches the node (a WorkspaceStartError naming each
 * container, volume or pod field), unless `allow-unsafe-pod` lists it; `privileged` is never
 * allowed. Returns what the pod says about root and the unsafe settings that were allowed.
 */
export function checkPodGuardrails(pod: V1Pod, container: string, allowed: readonly UnsafePodField[]): PodSecurity {
  const findings = unsafePodFindings(pod)
  const refused = findings.filter((f) => f.field === 'privileged' || !allowed.includes(f.field))
  if (refused.length > 0) {
    const allowable = refused.some((f) => f.field !== 'privileged')
    throw new WorkspaceStartError(
      `The workspace pod ${pod.metadata?.name ?? ''} is refused before any command runs: ${refused.map((f) => f.where).join('; ')}. ` +
        `run-task only runs commands in unprivileged workspaces; remove these from the devfile (pod-overrides, container-overrides), ` +
        `the DevWorkspace operator configuration or the admission webhook that adds them` +
        (allowable
          ? `, or allow them explicitly with allow-unsafe-pod: ${[...new Set(refused.filter((f) => f.field !== 'privileged').map((f) => f.field))].join(',')}.`
          : ' (privileged cannot be allowed).'),
    )
  }
  const podValue = pod.spec?.securityContext?.runAsNonRoot ?? null
  const containerValue = pod.spec?.containers?.find((c) => c.name === container)?.securityContext?.runAsNonRoot ?? null
  return {
    runAsNonRoot: { pod: podValue, container: containerValue, effective: containerValue ?? podValue },
    allowedUnsafe: findings.map((f) => f.where),
  }
}
