import { KubeConfig } from '@kubernetes/client-node'
import { PassThrough } from 'node:stream'
import { startKubeSim } from '../sim/kube/server.js'
import { createCheProvider } from '../../src/shared/providers/che/che-provider.js'
import { identityFromEnv, workspaceName } from '../../src/shared/identity.js'
import { loadDevfile } from '../../src/shared/providers/che/devworkspace.js'

const sim = await startKubeSim()
const kc = new KubeConfig(); kc.loadFromString(sim.kubeconfig)
const devfile = loadDevfile('devfile', 'schemaVersion: 2.2.0\nmetadata:\n  name: x\nprojects:\n  - name: app\n    git:\n      remotes:\n        origin: https://example.com/x.git\ncomponents:\n  - name: dev\n    container:\n      image: quay.io/devfile/universal-developer-image:latest\n', '.')
const p = createCheProvider({ kubeconfig: '', namespace: 'ci', source: { devfile, storageType: 'ephemeral' }, container: '' }, { kubeConfig: kc })
await p.checkPermissions()
const id = identityFromEnv({})
const t0 = Date.now()
const h = await p.provision({ name: workspaceName('rt', id), identity: id, startTimeoutMs: 10000, onProgress: console.log })
console.log('provisioned', h, Date.now() - t0)
const out = new PassThrough(); const err = new PassThrough()
out.on('data', (d) => process.stdout.write('OUT:' + d)); err.on('data', (d) => process.stdout.write('ERR:' + d))
const r = await p.exec(h, { command: 'pwd; echo $FOO; echo err >&2; mkdir -p $RUN_TASK_EVIDENCE_DIR/junit; echo "<testsuite/>" > $RUN_TASK_EVIDENCE_DIR/junit/a.xml; exit 3', cwd: '', env: new Map([['FOO', 'bar baz\nline2'], ['RUN_TASK_EVIDENCE_DIR', '.run-task/evidence']]), timeoutMs: 5000 }, { stdout: out, stderr: err })
console.log('exec', r)
console.log(await p.download(h, '.run-task/evidence', '/tmp/ev-scratch', { maxBytes: 1e6 }))
const t1 = Date.now()
await p.exec(h, { command: 'sleep 30', cwd: '', env: new Map(), timeoutMs: 500 }, { stdout: new PassThrough(), stderr: new PassThrough() }).catch((e) => console.log('timeout:', e.name, e.message, Date.now() - t1))
console.log(await p.destroy(h, 5000))
console.log(sim.devWorkspaces('ci'))
await sim.close()
