import { createHash, randomBytes } from 'node:crypto'
import { runContext } from './github-context.js'

/** Who a run belongs to. Recorded in labels, names and meta.json; never holds a secret. */
export interface RunIdentity {
  readonly repository: string
  readonly runId: string
  readonly runAttempt: string
  readonly job: string
  /** Short hash of the matrix values (or of the job key outside a matrix). */
  readonly matrixHash: string
  readonly sha: string
}

/** Reads the identity from the runner's environment; local runs get `local` values. */
export function identityFromEnv(env: NodeJS.ProcessEnv, matrix = ''): RunIdentity {
  const job = env.GITHUB_JOB ?? 'local'
  const context = runContext(env)
  return {
    repository: context.repository || 'local/local',
    runId: env.GITHUB_RUN_ID ?? `local-${Date.now().toString(36)}`,
    runAttempt: env.GITHUB_RUN_ATTEMPT ?? '1',
    job,
    matrixHash: shortHash(`${job}\n${matrix}`, 8),
    sha: context.sha,
  }
}

const LABEL_PREFIX = 'run-task.ameide.io'

/** Label keys put on everything the toolkit creates, so cleanup and sweep can find it. */
export const LABELS = {
  runId: `${LABEL_PREFIX}/run-id`,
  attempt: `${LABEL_PREFIX}/attempt`,
  createdBy: `${LABEL_PREFIX}/created-by`,
  job: `${LABEL_PREFIX}/job`,
} as const

/** The value of the created-by label; sweep selects on it. */
export const CREATED_BY = 'run-task'

/** Kubernetes-safe labels for an identity. */
export function identityLabels(identity: RunIdentity): Record<string, string> {
  return {
    [LABELS.runId]: labelValue(identity.runId),
    [LABELS.attempt]: labelValue(identity.runAttempt),
    [LABELS.createdBy]: CREATED_BY,
    [LABELS.job]: labelValue(`${identity.job}-${identity.matrixHash}`),
  }
}

/**
 * A DNS-1123 name that is unique per attempt: `<prefix>-<run>-<attempt>-<hash>`.
 * The hash mixes in the job, the matrix and a random nonce, so parallel matrix
 * legs and re-runs never collide.
 */
export function workspaceName(prefix: string, identity: RunIdentity, nonce = randomBytes(4).toString('hex')): string {
  const run = dnsPart(identity.runId).slice(-10)
  const hash = shortHash(`${identity.repository}\n${identity.job}\n${identity.matrixHash}\n${nonce}`, 6)
  const name = `${prefix}-${run}-${dnsPart(identity.runAttempt)}-${hash}`
  return name.slice(0, 63).replace(/-+$/, '')
}

/** Prefix rules: it must leave room for the generated suffix. */
export const NAME_PREFIX_PATTERN = /^[a-z]([-a-z0-9]{0,18}[a-z0-9])?$/

function shortHash(text: string, length: number): string {
  return createHash('sha256').update(text).digest('hex').slice(0, length)
}

function dnsPart(text: string): string {
  return (
    text
      .toLowerCase()
      .replace(/[^a-z0-9]+/g, '-')
      .replace(/^-+|-+$/g, '') || 'x'
  )
}

/**
 * A valid label value by construction (apimachinery IsValidLabelValue): at most 63 characters of `[A-Za-z0-9_.-]`
 * that start and end alphanumeric. It is cut first and trimmed after, so a cut never leaves `-`, `_` or `.` last.
 */
export function labelValue(text: string): string {
  return text
    .replace(/[^A-Za-z0-9_.-]+/g, '-')
    .slice(0, 63)
    .replace(/^[^A-Za-z0-9]+|[^A-Za-z0-9]+$/g, '')
}
