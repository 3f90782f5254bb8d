import { InputError } from '../errors.js'
import { type InputReader, inputOr } from '../inputs.js'
import { parseBoolean, parseInteger, parseLines, parseSize } from '../parse.js'

/** Validated inputs of the collect step. */
export interface CollectSettings {
  /** Overrides the evidence path the run step used; empty keeps it. */
  readonly evidencePath: string
  readonly junitPatterns: readonly string[]
  /** Empty means `run-task-<workspace-name>`, unique per job, matrix leg and attempt. */
  readonly artifactName: string
  /** 0 means the repository's default. */
  readonly retentionDays: number
  readonly maxEvidenceBytes: number
  readonly upload: boolean
  /** Fail the step when collecting fails, instead of warning. */
  readonly failOnError: boolean
  readonly workspaceName: string
  /** With checkName, publishes a check run. Masked. */
  readonly githubToken: string
  readonly checkName: string
}

export const DEFAULT_JUNIT_PATTERNS = ['junit/**/*.xml', '**/TEST-*.xml', '**/junit*.xml', '**/*.junit.xml']
const ARTIFACT_NAME_FORBIDDEN = /[":<>|*?\r\n\\/]/

/** Reads and checks every collect input once. */
export function getCollectSettings(read: InputReader): CollectSettings {
  const artifactName = read('artifact-name').trim()
  if (ARTIFACT_NAME_FORBIDDEN.test(artifactName)) {
    throw new InputError('artifact-name', artifactName, 'a name without any of " : < > | * ? \\ / or line breaks')
  }
  const patterns = parseLines(read('junit-patterns'))
  const retention = read('retention-days').trim()
  return {
    evidencePath: read('evidence-path').trim(),
    junitPatterns: patterns.length ? patterns : DEFAULT_JUNIT_PATTERNS,
    artifactName,
    retentionDays: retention ? parseInteger('retention-days', retention, 1, 90) : 0,
    maxEvidenceBytes: parseSize('max-evidence-size', inputOr(read, 'max-evidence-size', '500MiB')),
    upload: parseBoolean('upload', inputOr(read, 'upload', 'true')),
    failOnError: parseBoolean('fail-on-error', inputOr(read, 'fail-on-error', 'false')),
    workspaceName: read('workspace-name').trim(),
    githubToken: read('github-token').trim(),
    checkName: read('check-name').trim(),
  }
}
