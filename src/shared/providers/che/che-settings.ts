import type { DevWorkspaceSource } from './devworkspace.js'
import type { UnsafePodField } from './pod-guardrails.js'

/** Validated Che settings: where the DevWorkspace goes and what it is made of. */
export interface CheSettings {
  /** The kubeconfig's content; empty means in-cluster configuration. Never logged. */
  readonly kubeconfig: string
  readonly namespace: string
  /** What to build the DevWorkspace from; only provisioning needs it. */
  readonly source?: DevWorkspaceSource
  /** The container to exec in; empty picks the devfile's first container component. */
  readonly container: string
  /** `spec.routingClass` of the DevWorkspace: `che` (Che's gateway, the default) or `basic` (DWO with clusterHostSuffix). */
  readonly routingClass?: string
  /** Pod settings that reach the node which the `allow-unsafe-pod` input allows; all others are refused. */
  readonly allowUnsafePod?: readonly UnsafePodField[]
  /** Problems with the kubeconfig that do not stop the run (insecure-skip-tls-verify), shown as warnings. */
  readonly warnings?: readonly string[]
}
