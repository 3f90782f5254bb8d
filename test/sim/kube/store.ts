import { randomUUID } from 'node:crypto'

/** Any stored object: only metadata is interpreted by the store. */
export interface KubeObject {
  apiVersion?: string
  kind?: string
  metadata: {
    name: string
    namespace?: string
    uid?: string
    resourceVersion?: string
    generation?: number
    creationTimestamp?: string
    deletionTimestamp?: string
    labels?: Record<string, string>
    annotations?: Record<string, string>
    finalizers?: string[]
  }
  [key: string]: unknown
}

export type WatchEventType = 'ADDED' | 'MODIFIED' | 'DELETED'

export interface StoredEvent {
  readonly rv: number
  readonly type: WatchEventType
  readonly resource: string
  readonly object: KubeObject
}

type Listener = (event: StoredEvent) => void

/**
 * An in-memory object store with one global resourceVersion counter, as etcd gives
 * the API server. It keeps a bounded history of events so watches can resume from
 * a resourceVersion; anything older is answered with 410 Gone.
 */
export class ObjectStore {
  private revision = 1000
  private dropped = 0
  private readonly objects = new Map<string, KubeObject>()
  private readonly history: StoredEvent[] = []
  private readonly listeners = new Set<Listener>()

  constructor(private readonly historyLimit = 500) {}

  get currentRevision(): number {
    return this.revision
  }

  /** The newest resourceVersion whose event is no longer kept; a watch must start at or after it. */
  get droppedThrough(): number {
    return this.dropped
  }

  /** Whether every event after `rv` is still in the history. */
  canResumeFrom(rv: number): boolean {
    return rv >= this.dropped
  }

  /** Drops the event history, so any watch resuming from an older version gets 410. */
  compact(): void {
    this.history.length = 0
    this.dropped = this.revision
  }

  get(resource: string, namespace: string, name: string): KubeObject | undefined {
    const found = this.objects.get(key(resource, namespace, name))
    return found && structuredClone(found)
  }

  list(resource: string, namespace: string | undefined): KubeObject[] {
    return [...this.objects.entries()]
      .filter(([k]) => k.startsWith(`${resource}/${namespace === undefined ? '' : `${namespace}/`}`))
      .map(([, o]) => structuredClone(o))
  }

  create(resource: string, object: KubeObject): KubeObject {
    const stored = structuredClone(object)
    stored.metadata.uid = randomUUID()
    stored.metadata.creationTimestamp = new Date().toISOString().replace(/\.\d+Z$/, 'Z')
    stored.metadata.generation = 1
    return this.write(resource, stored, 'ADDED')
  }

  /** Replaces an object; bumps generation when `specChanged`. */
  update(resource: string, object: KubeObject, specChanged = false): KubeObject {
    const stored = structuredClone(object)
    if (specChanged) stored.metadata.generation = (stored.metadata.generation ?? 1) + 1
    return this.write(resource, stored, 'MODIFIED')
  }

  remove(resource: string, namespace: string, name: string): KubeObject | undefined {
    const k = key(resource, namespace, name)
    const existing = this.objects.get(k)
    if (!existing) return undefined
    this.objects.delete(k)
    this.revision += 1
    existing.metadata.resourceVersion = String(this.revision)
    this.record({ rv: this.revision, type: 'DELETED', resource, object: structuredClone(existing) })
    return existing
  }

  /** Events after `rv`, for a resuming watch. */
  eventsSince(rv: number): StoredEvent[] {
    return this.history.filter((e) => e.rv > rv)
  }

  subscribe(listener: Listener): () => void {
    this.listeners.add(listener)
    return () => this.listeners.delete(listener)
  }

  private write(resource: string, object: KubeObject, type: WatchEventType): KubeObject {
    this.revision += 1
    object.metadata.resourceVersion = String(this.revision)
    this.objects.set(key(resource, object.metadata.namespace ?? '', object.metadata.name), object)
    this.record({ rv: this.revision, type, resource, object: structuredClone(object) })
    return structuredClone(object)
  }

  private record(event: StoredEvent): void {
    this.history.push(event)
    if (this.history.length > this.historyLimit) this.dropped = this.history.shift()?.rv ?? this.dropped
    for (const listener of this.listeners) listener(event)
  }
}

function key(resource: string, namespace: string, name: string): string {
  return `${resource}/${namespace}/${name}`
}

/** Equality-based label selectors: `a=b`, `a==b`, `a!=b`, `a`, `!a`, comma-separated. */
export function matchesLabelSelector(labels: Record<string, string> | undefined, selector: string | null): boolean {
  if (!selector) return true
  return selector.split(',').every((term) => {
    const t = term.trim()
    const ne = /^([^!=]+)!=(.*)$/.exec(t)
    if (ne) return labels?.[ne[1] as string] !== ne[2]
    const eq = /^([^!=]+)==?(.*)$/.exec(t)
    if (eq) return labels?.[eq[1] as string] === eq[2]
    if (t.startsWith('!')) return labels?.[t.slice(1)] === undefined
    return labels?.[t] !== undefined
  })
}

/** Field selectors over dotted paths, equality only: `metadata.name=x`. */
export function matchesFieldSelector(object: KubeObject, selector: string | null): boolean {
  if (!selector) return true
  return selector.split(',').every((term) => {
    const match = /^([^!=]+)(==?|!=)(.*)$/.exec(term.trim())
    if (!match) return false
    const value = (match[1] as string)
      .split('.')
      .reduce<unknown>((o, k) => (o as Record<string, unknown> | undefined)?.[k], object)
    return match[2] === '!=' ? String(value ?? '') !== match[3] : String(value ?? '') === match[3]
  })
}
