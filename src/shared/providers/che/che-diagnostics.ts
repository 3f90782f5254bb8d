import type { CoreV1Api, CoreV1Event, V1Pod } from '@kubernetes/client-node'
import type { DevWorkspaceObject } from './devworkspace.js'
import { DW_ID_LABEL } from './che-pods.js'

/**
 * Lines that explain a workspace's state: its phase and message, each condition,
 * each container's state, and the recent events of the DevWorkspace and its pods.
 * Reading them must never fail the caller: what cannot be read is said so.
 */
export async function describeDevWorkspace(
  core: CoreV1Api,
  namespace: string,
  object: DevWorkspaceObject | null,
): Promise<string[]> {
  if (!object) return ['The DevWorkspace no longer exists.']
  const lines = [
    `phase: ${object.status?.phase || '(none)'}${object.status?.message ? ` - ${object.status.message}` : ''}`,
  ]
  for (const c of object.status?.conditions ?? []) {
    lines.push(`condition ${c.type}=${c.status}${c.reason ? ` (${c.reason})` : ''}${c.message ? `: ${c.message}` : ''}`)
  }
  const id = object.status?.devworkspaceId
  const pods = id ? await listPods(core, namespace, id) : []
  for (const pod of pods) lines.push(...containerLines(pod))
  lines.push(...(await eventLines(core, namespace, object.metadata.name, id)))
  return lines
}

async function listPods(core: CoreV1Api, namespace: string, id: string): Promise<V1Pod[]> {
  try {
    return (await core.listNamespacedPod({ namespace, labelSelector: `${DW_ID_LABEL}=${id}` })).items
  } catch {
    return []
  }
}

function containerLines(pod: V1Pod): string[] {
  const statuses = [...(pod.status?.initContainerStatuses ?? []), ...(pod.status?.containerStatuses ?? [])]
  return statuses.map((s) => {
    const state = s.state?.waiting
      ? `waiting (${s.state.waiting.reason ?? ''}${s.state.waiting.message ? `: ${s.state.waiting.message}` : ''})`
      : s.state?.terminated
        ? `terminated (${s.state.terminated.reason ?? ''}, exit ${s.state.terminated.exitCode})`
        : s.state?.running
          ? 'running'
          : 'unknown'
    return `pod ${pod.metadata?.name ?? ''} container ${s.name}: ${state}, ready=${s.ready}, restarts=${s.restartCount}`
  })
}

/**
 * Recent events of the DevWorkspace and of its pods. Pods are matched by the
 * `<devworkspaceId>-` name prefix, so events of a pod already gone (a failed
 * start scales the deployment down) are still found.
 */
async function eventLines(core: CoreV1Api, namespace: string, name: string, id: string | undefined): Promise<string[]> {
  let events: CoreV1Event[]
  try {
    events = (await core.listNamespacedEvent({ namespace })).items
  } catch {
    return ['events: could not be read']
  }
  const mine = events.filter(
    (e) => e.involvedObject.name === name || (id && e.involvedObject.name?.startsWith(`${id}-`)),
  )
  return mine
    .slice(-15)
    .map(
      (e) =>
        `event ${e.type ?? ''} ${e.reason ?? ''} on ${e.involvedObject.kind ?? ''} ${e.involvedObject.name ?? ''}: ${e.message ?? ''}${(e.count ?? 1) > 1 ? ` (x${e.count ?? 1})` : ''}`,
    )
}
