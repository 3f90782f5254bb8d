import { type WatchObjectOptions, watchObject } from '../../kube/object-watch.js'
import { DW_GROUP, DW_PLURAL, DW_VERSION, type DevWorkspaceObject } from './devworkspace.js'

export type { WatchVerdict } from '../../kube/object-watch.js'

/** What watching one DevWorkspace takes: the generic watch's options, less the resource. */
export type WatchDevWorkspaceOptions<T> = Omit<WatchObjectOptions<DevWorkspaceObject, T>, 'resource' | 'describe'>

const DEVWORKSPACES = { group: DW_GROUP, version: DW_VERSION, plural: DW_PLURAL, kind: 'DevWorkspace' }

/** Follows one DevWorkspace until `judge` returns a verdict; progress lines give its phase and message. */
export function watchDevWorkspace<T>(options: WatchDevWorkspaceOptions<T>): Promise<T> {
  return watchObject({
    ...options,
    resource: DEVWORKSPACES,
    describe: (o) => `${o.status?.phase || 'no phase yet'}${o.status?.message ? `: ${o.status.message}` : ''}`,
  })
}
