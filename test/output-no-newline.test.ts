import assert from 'node:assert/strict'
import { readFileSync, statSync } from 'node:fs'
import path from 'node:path'
import { after, before, describe, it } from 'node:test'
import { listFiles } from '../src/shared/evidence/evidence-files.js'
import { runActionStep } from './harness/action-runner.js'
import { cheInputs, type Job, startJob } from './harness/job.js'

const MiB = 1024 * 1024
const SECRET = 'n0-n3wl1ne/S3cr3t+v4l=x'
const COPIES = 64

/**
 * 64 MiB on one line: 64 stretches of filler, each a few bytes shorter than 1 MiB so the
 * secret after it lands at a different offset against every 64 KiB read and frame.
 */
function oneLineCommand(exitCode: number): string {
  const len = SECRET.length
  return `for i in $(seq 1 ${COPIES}); do head -c $((${MiB} - ${len} - i * 7)) /dev/zero | tr '\\0' a; printf '%s' "$API_TOKEN"; done; exit ${exitCode}`
}

describe('dist bundles: 64 MiB of output without a newline through the run step', () => {
  let job: Job
  before(async () => {
    job = await startJob('6464')
    const provision = await runActionStep('provision-workspace', { env: job.env, inputs: cheInputs(job) })
    assert.equal(provision.code, 0, provision.stdout)
  })
  after(async () => {
    await runActionStep('cleanup', { env: job.env })
    await job.close()
  })

  for (const [exitCode, outcome] of [
    [0, 'passed'],
    [3, 'failed'],
  ] as const) {
    it(`exit ${exitCode} is ${outcome}, with every copy of the secret masked wherever the chunks split`, async () => {
      const run = await runActionStep('run-task', {
        env: job.env,
        inputs: { command: oneLineCommand(exitCode), 'secret-env': `API_TOKEN=${SECRET}`, 'fail-on': 'never' },
      })
      assert.equal(run.outputs.outcome, outcome, run.stdout.slice(-2000))
      assert.equal(run.outputs['exit-code'], String(exitCode))
      // The runner consumes ::add-mask:: lines; everything else reaches the log.
      const logged = run.stdout
        .split('\n')
        .filter((l) => !l.startsWith('::add-mask::'))
        .join('\n')
      assert.ok(!logged.includes(SECRET) && !run.stderr.includes(SECRET), 'the secret is not in the log')
      assert.equal(logged.split('***').length - 1, COPIES, 'each copy is masked once')
      const logs = listFiles(job.env.RUNNER_TEMP).filter((f) => f.endsWith(path.join('logs', 'command.log')))
      const log = logs
        .map((f) => path.join(job.env.RUNNER_TEMP, f))
        .sort((a, b) => statSync(b).mtimeMs - statSync(a).mtimeMs)[0] as string
      const text = readFileSync(log, 'utf8')
      assert.ok(!text.includes(SECRET))
      const filler = COPIES * MiB - COPIES * SECRET.length - (7 * COPIES * (COPIES + 1)) / 2
      assert.equal(text.length, filler + COPIES * 3, 'command.log holds the whole line, masked')
    })
  }
})
