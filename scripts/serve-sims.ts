/**
 * Starts the simulated Che cluster and Coder deployment and keeps them running,
 * for workflows that exercise the actions on a real runner (`uses: ./`). Writes
 * what a step needs as GITHUB_ENV lines to the file named by the first argument.
 */
import { writeFileSync } from 'node:fs'
import { startCoderSim } from '../test/sim/coderd/server.js'
import { startKubeSim } from '../test/sim/kube/server.js'

const target = process.argv[2]
if (!target) throw new Error('usage: serve-sims.ts <env-file>')
const issuer = 'https://login.sim.invalid/realms/ci'
const kube = await startKubeSim({ stepDelayMs: 20, oidcIssuer: issuer })
kube.addEditor('ci', 'che-code')
const coder = await startCoderSim({ stepMs: 20, oidcIssuer: issuer })
const delimiter = `SIM_EOF_${Date.now()}`
writeFileSync(
  target,
  [
    `SIM_KUBECONFIG<<${delimiter}`,
    kube.kubeconfig.trimEnd(),
    delimiter,
    `SIM_CODER_URL=${coder.url}`,
    `SIM_CODER_TOKEN=${coder.token}`,
    `SIM_CODER_ADMIN_TOKEN=${coder.adminToken}`,
    `SIM_OIDC_ISSUER=${issuer}`,
    '',
  ].join('\n'),
)
console.log(`Simulated Kubernetes API at ${kube.url}, coderd at ${coder.url}`)
const stop = async (): Promise<void> => {
  await kube.close()
  await coder.close()
  process.exit(0)
}
process.on('SIGTERM', () => void stop())
process.on('SIGINT', () => void stop())
