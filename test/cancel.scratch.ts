import { startJob } from '/work/main/test/harness/job.js'
import { runActionStep } from '/work/main/test/harness/action-runner.js'
const job = await startJob()
job.sim.faults.slowStartMs = 60000
const t = Date.now()
const p = await runActionStep('provision-workspace', { env: job.env, inputs: { provider: 'che', kubeconfig: job.sim.kubeconfig, namespace: 'ci', devfile: 'devfile.yaml' }, interruptOn: 'waiting for it to be ready' })
console.log(Date.now() - t, p.code, p.signal, p.stdout.slice(-1500), p.stderr)
await job.close()
