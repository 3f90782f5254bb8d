import { existsSync, readFileSync } from 'node:fs'
import path from 'node:path'
import { parseDocument } from 'yaml'
import { InputError } from '../../errors.js'
import { devfileRuleProblems } from './devfile-rules.js'
import { devfileProblems, devWorkspaceProblems } from './schema.js'
import { firstLine } from '../../text.js'

export const DW_GROUP = 'workspace.devfile.io'
export const DW_VERSION = 'v1alpha2'
export const DW_PLURAL = 'devworkspaces'
export const DWT_PLURAL = 'devworkspacetemplates'
export const STORAGE_TYPES = ['ephemeral', 'per-workspace', 'per-user', 'common', 'async'] as const
export type StorageType = (typeof STORAGE_TYPES)[number]

/** A devfile that has been read, parsed and checked against the devfile 2.x schema. */
export interface Devfile {
  /** `inline` or the file's path, for messages. */
  readonly origin: string
  readonly document: Readonly<Record<string, unknown>>
}

/** A DevWorkspaceTemplate reference, `name` or `namespace/name`. */
export interface TemplateRef {
  readonly name: string
  readonly namespace?: string
}

/** What a DevWorkspace is built from. */
export interface DevWorkspaceSource {
  readonly devfile?: Devfile
  readonly template?: TemplateRef
  readonly editor?: TemplateRef
  /** The `storage-type` input when it was given; else the devfile's own attribute stands, else DEFAULT_STORAGE_TYPE. */
  readonly storageType?: StorageType
}

/** The storage type when neither the input nor the devfile names one: nothing outlives a CI run. */
export const DEFAULT_STORAGE_TYPE: StorageType = 'ephemeral'
export const STORAGE_TYPE_ATTRIBUTE = 'controller.devfile.io/storage-type'
/** DWO pkg/config/sync.go: the DevWorkspaceOperatorConfig a workspace runs with. */
export const DEVWORKSPACE_CONFIG_ATTRIBUTE = 'controller.devfile.io/devworkspace-config'
/** che-dashboard devfileApi/devWorkspace/metadata.ts DEVWORKSPACE_UPDATING_TIMESTAMP_ANNOTATION. */
export const LAST_UPDATED_ANNOTATION = 'che.eclipse.org/last-updated-timestamp'
/** The routing class Che's dashboard gives every DevWorkspace (che-dashboard devWorkspaceClient.ts createDevWorkspace). */
export const CHE_ROUTING_CLASS = 'che'

/** A DevWorkspaceOperatorConfig reference, `{name, namespace}` (DWO pkg/config/sync.go). */
export interface ConfigRef {
  readonly name: string
  readonly namespace: string
}

/** How the cluster wants the DevWorkspace made, beyond its source. */
export interface DevWorkspaceOptions {
  /** `spec.routingClass`: `che` on Che, `basic` on a bare DWO with clusterHostSuffix. */
  readonly routingClass: string
  /** Che's `devworkspace-config`, when the CheCluster was found. */
  readonly config?: ConfigRef
  /** `che.eclipse.org/last-updated-timestamp`; now by default. */
  readonly now?: Date
}

/** The subset of a DevWorkspace the provider reads. */
export interface DevWorkspaceObject {
  apiVersion: string
  kind: 'DevWorkspace'
  metadata: {
    name: string
    namespace?: string
    uid?: string
    resourceVersion?: string
    creationTimestamp?: string
    deletionTimestamp?: string
    labels?: Record<string, string>
    annotations?: Record<string, string>
  }
  spec: { started: boolean; routingClass?: string; template?: Record<string, unknown>; contributions?: unknown[] }
  status?: {
    devworkspaceId?: string
    phase?: string
    message?: string
    mainUrl?: string
    conditions?: { type: string; status: string; reason?: string; message?: string; lastTransitionTime?: string }[]
  }
}

const TEMPLATE_KEYS = [
  'components',
  'projects',
  'starterProjects',
  'dependentProjects',
  'commands',
  'events',
  'attributes',
  'variables',
  'parent',
] as const

/**
 * Reads the `devfile` input: inline YAML when it spans lines or starts with
 * `schemaVersion:`, else a path relative to `baseDir`. Fails with an InputError
 * naming the input when it cannot be read, parsed or validated.
 */
export function loadDevfile(input: string, value: string, baseDir: string): Devfile {
  const inline = value.includes('\n') || value.trimStart().startsWith('schemaVersion:')
  const file = inline ? undefined : path.resolve(baseDir, value)
  if (file && !existsSync(file))
    throw new InputError(input, value, `inline devfile YAML or the path of a devfile (no file at ${file})`)
  const text = file ? readFileSync(file, 'utf8') : value
  const origin = file ?? 'inline'
  const parsed = parseDocument(text, { uniqueKeys: true, prettyErrors: false })
  if (parsed.errors.length > 0) {
    throw new InputError(input, value, `valid YAML (${firstLine(parsed.errors[0]?.message ?? 'unknown error')})`)
  }
  const document: unknown = parsed.toJS()
  if (typeof document !== 'object' || document === null || Array.isArray(document)) {
    throw new InputError(input, value, 'a devfile: a YAML mapping with schemaVersion')
  }
  const schemaProblems = devfileProblems(document)
  const problems = schemaProblems.length > 0 ? schemaProblems : devfileRuleProblems(document as Record<string, unknown>)
  if (problems.length > 0) {
    throw new InputError(
      input,
      inline ? 'inline devfile' : value,
      `a devfile that validates against the devfile 2.x schema and DevWorkspace admission rules; ${origin} has: ${problems.join('; ')}`,
    )
  }
  return { origin, document: document as Record<string, unknown> }
}

/** Parses `name` or `namespace/name`. */
export function parseTemplateRef(input: string, value: string): TemplateRef {
  const match = /^(?:([a-z0-9]([-a-z0-9]*[a-z0-9])?)\/)?([a-z0-9]([-a-z0-9]*[a-z0-9])?)$/.exec(value)
  if (!match || value.length > 253)
    throw new InputError(input, value, 'a DevWorkspaceTemplate name or namespace/name (DNS-1123 labels)')
  return match[1] ? { name: match[3] as string, namespace: match[1] } : { name: match[3] as string }
}

/** The container components a devfile declares, in order. */
export function containerComponents(devfile: Devfile | undefined): string[] {
  const components = (devfile?.document.components ?? []) as { name?: string; container?: unknown }[]
  return components.filter((c) => c.container && typeof c.name === 'string').map((c) => c.name as string)
}

/**
 * Builds the DevWorkspace for a run the way Che's dashboard does (che-dashboard devWorkspaceClient.ts
 * createDevWorkspace and managePvcStrategy): the devfile becomes `spec.template`, a template reference its
 * `parent`, the editor a contribution; `spec.routingClass` is set, Che's `devworkspace-config` named, the storage
 * type an attribute, and the `last-updated-timestamp` annotation added. The result is checked against the
 * DevWorkspace schema; a problem there is a bug in the inputs, reported as `inputName`.
 */
export function buildDevWorkspace(
  source: DevWorkspaceSource,
  meta: { name: string; namespace: string; labels: Record<string, string>; annotations?: Record<string, string> },
  options: DevWorkspaceOptions,
  inputName = 'devfile',
): DevWorkspaceObject {
  const template: Record<string, unknown> = {}
  for (const key of TEMPLATE_KEYS) {
    const value = source.devfile?.document[key]
    if (value !== undefined) template[key] = structuredClone(value)
  }
  if (source.template) template.parent = { kubernetes: { ...source.template } }
  const attributes = { ...(template.attributes as Record<string, unknown> | undefined) }
  attributes[STORAGE_TYPE_ATTRIBUTE] = source.storageType ?? attributes[STORAGE_TYPE_ATTRIBUTE] ?? DEFAULT_STORAGE_TYPE
  if (options.config && attributes[DEVWORKSPACE_CONFIG_ATTRIBUTE] === undefined)
    attributes[DEVWORKSPACE_CONFIG_ATTRIBUTE] = { ...options.config }
  template.attributes = attributes
  const object: DevWorkspaceObject = {
    apiVersion: `${DW_GROUP}/${DW_VERSION}`,
    kind: 'DevWorkspace',
    metadata: {
      name: meta.name,
      namespace: meta.namespace,
      labels: { ...meta.labels },
      annotations: { ...meta.annotations, [LAST_UPDATED_ANNOTATION]: (options.now ?? new Date()).toISOString() },
    },
    spec: { started: true, routingClass: options.routingClass, template },
  }
  if (source.editor) object.spec.contributions = [{ name: 'editor', kubernetes: { ...source.editor } }]
  const problems = devWorkspaceProblems(object)
  if (problems.length > 0) {
    throw new InputError(
      inputName,
      source.devfile?.origin ?? source.template?.name ?? '',
      `a DevWorkspace that validates against the DevWorkspace schema; it has: ${problems.join('; ')}`,
    )
  }
  return object
}
