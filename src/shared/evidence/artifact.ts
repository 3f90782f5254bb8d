import path from 'node:path'
import { listFiles } from './evidence-files.js'

/** Whether this process can reach the Actions artifact service. */
export function canUploadArtifacts(env: NodeJS.ProcessEnv): boolean {
  return Boolean(env.ACTIONS_RUNTIME_TOKEN && env.ACTIONS_RESULTS_URL)
}

/** Uploads every file of the evidence directory as one artifact; returns its id. */
export async function uploadEvidence(name: string, evidenceDir: string, retentionDays: number): Promise<string> {
  const files = listFiles(evidenceDir).map((f) => path.join(evidenceDir, f))
  // Loaded here so that steps that upload nothing never compile the artifact client.
  const { DefaultArtifactClient } = await import('@actions/artifact')
  const client = new DefaultArtifactClient()
  const result = await client.uploadArtifact(name, files, evidenceDir, retentionDays ? { retentionDays } : {})
  return result.id === undefined ? '' : String(result.id)
}
