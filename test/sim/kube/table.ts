import type { IncomingMessage } from 'node:http'
import type { KubeObject } from './store.js'

interface Column {
  readonly name: string
  readonly type: string
  readonly format?: string
  readonly description: string
  readonly jsonPath: string
}

const NAME: Column = {
  name: 'Name',
  type: 'string',
  format: 'name',
  description: 'Name must be unique within a namespace.',
  jsonPath: '.metadata.name',
}
const AGE: Column = {
  name: 'Age',
  type: 'date',
  description: 'CreationTimestamp is a timestamp representing the server time when this object was created.',
  jsonPath: '.metadata.creationTimestamp',
}

/**
 * The printer columns of the custom resources, by kind: Name, then the CRD's additionalPrinterColumns, or Age when
 * it has none (k8s.io/apiextensions-apiserver pkg/registry/customresource/tableconvertor/tableconvertor.go New).
 * DevWorkspace's come from devfile/api pkg/apis/workspaces/v1alpha2/devworkspace_types.go (kubebuilder:printcolumn).
 */
const COLUMNS: Record<string, readonly Column[]> = {
  DevWorkspace: [
    NAME,
    {
      name: 'DevWorkspace ID',
      type: 'string',
      description: "The devworkspace's unique id",
      jsonPath: '.status.devworkspaceId',
    },
    { name: 'Phase', type: 'string', description: 'The current devworkspace startup phase', jsonPath: '.status.phase' },
    {
      name: 'Info',
      type: 'string',
      description: 'Additional information about the devworkspace',
      jsonPath: '.status.message',
    },
  ],
  DevWorkspaceTemplate: [NAME, AGE],
}

type IncludeObject = 'None' | 'Metadata' | 'Object'

/** How a request wants objects: as a meta.k8s.io Table (kubectl get), or as they are. */
export interface Presenter {
  /** The body to send for a GET of one object or a list. */
  (body: Record<string, unknown>): Record<string, unknown>
}

/**
 * Server-side printing, as kubectl get asks for it with `Accept: application/json;as=Table;v=v1;g=meta.k8s.io,…`
 * (k8s.io/apiserver pkg/endpoints/handlers/response.go transformResponseObject, asTable). Kinds without printer
 * columns here are sent as they are, which the Accept list's plain `application/json` allows.
 * For a watch, the first event carries the column definitions and the next ones none
 * (k8s.io/apiserver pkg/endpoints/handlers/watch.go: `NoHeaders` after the first event).
 */
export function presenterFor(req: IncomingMessage): Presenter {
  if (!wantsTable(req.headers.accept ?? '')) return (body) => body
  const params = new URL(req.url ?? '/', 'https://sim').searchParams
  const include = (params.get('includeObject') ?? 'Metadata') as IncludeObject
  let headersSent = false
  const watching = params.get('watch') === 'true' || params.get('watch') === '1'
  return (body) => {
    const kind = String(body.kind ?? '').replace(/List$/, '')
    const columns = COLUMNS[kind]
    if (!columns || body.kind === 'Status') return body
    const items = Array.isArray(body.items) ? (body.items as KubeObject[]) : [body as unknown as KubeObject]
    const metadata = body.metadata as { resourceVersion?: string } | undefined
    const table = {
      kind: 'Table',
      apiVersion: 'meta.k8s.io/v1',
      metadata: { resourceVersion: metadata?.resourceVersion ?? '' },
      columnDefinitions: watching && headersSent ? null : columns.map(definition),
      rows: items.map((item) => ({ cells: columns.map((c) => cell(item, c)), object: rowObject(item, include) })),
    }
    headersSent = true
    return table
  }
}

/** A TableColumnDefinition (k8s.io/apimachinery pkg/apis/meta/v1 types.go). */
function definition(column: Column): Record<string, unknown> {
  const { name, type, format, description } = column
  return { name, type, format: format ?? '', description, priority: 0 }
}

function wantsTable(accept: string): boolean {
  const first = accept.split(',')[0]?.replace(/\s+/g, '') ?? ''
  const params = new Set(first.split(';').slice(1))
  return params.has('as=Table') && params.has('g=meta.k8s.io') && (params.has('v=v1') || params.has('v=v1beta1'))
}

function rowObject(item: KubeObject, include: IncludeObject): unknown {
  if (include === 'None') return undefined
  if (include === 'Object') return item
  return { kind: 'PartialObjectMetadata', apiVersion: 'meta.k8s.io/v1', metadata: item.metadata }
}

function cell(item: KubeObject, column: Column): unknown {
  let value: unknown = item
  for (const key of column.jsonPath.split('.').slice(1)) value = (value as Record<string, unknown> | undefined)?.[key]
  if (column.type === 'date' && typeof value === 'string') return humanDuration(Date.now() - Date.parse(value))
  return value ?? null
}

/** k8s.io/apimachinery pkg/util/duration HumanDuration, the way Age cells read. */
function humanDuration(ms: number): string {
  const seconds = Math.max(0, Math.floor(ms / 1000))
  if (seconds < 120) return `${seconds}s`
  const minutes = Math.floor(seconds / 60)
  if (minutes < 10) return seconds % 60 === 0 ? `${minutes}m` : `${minutes}m${seconds % 60}s`
  if (minutes < 180) return `${minutes}m`
  const hours = Math.floor(minutes / 60)
  if (hours < 48) return minutes % 60 === 0 ? `${hours}h` : `${hours}h${minutes % 60}m`
  return `${Math.floor(hours / 24)}d`
}
