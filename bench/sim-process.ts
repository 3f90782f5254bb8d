/**
 * A simulated job (Che cluster or Coder deployment, plus the results service) in a
 * process of its own, so a load bench does not run the simulators on the same event
 * loop that spawns and reads the chains. Prints one JSON line with what the chains
 * need, then serves until stdin closes.
 */
import { cheInputs, startCoderJob, startJob } from '../test/harness/job.js'

/** What a chain needs from a simulated job: the job's env and the provision inputs. */
export interface SimulatedJob {
  readonly env: Record<string, string> & { readonly RUNNER_TEMP: string }
  readonly provisionInputs: Record<string, string>
}

async function main(): Promise<void> {
  const [provider, runId] = process.argv.slice(2) as [string, string]
  const coderJob = provider === 'coder' ? await startCoderJob(runId) : undefined
  const job = coderJob ?? (await startJob(runId))
  const provisionInputs = coderJob
    ? {
        provider: 'coder',
        'coder-url': coderJob.coder.url,
        'coder-token': coderJob.coder.token,
        template: 'ci-docker',
        parameters: 'repo_url: https://example.com/app.git\nregion: us',
      }
    : cheInputs(job)
  const ready: SimulatedJob = { env: job.env, provisionInputs }
  process.stdout.write(`${JSON.stringify(ready)}\n`)
  process.stdin.resume()
  process.stdin.on('end', () => void job.close().then(() => process.exit(0)))
}

await main()
