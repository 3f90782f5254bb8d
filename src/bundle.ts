/**
 * The one bundle behind every action and the CLI. Each action's dist entry is two
 * lines that import its run function from here, so the 6 MB of dependencies
 * (mostly @kubernetes/client-node's generated API) ship once, not five times.
 */
import './esm-globals.js'

export { run as provisionWorkspace } from './actions/provision-workspace/main.js'
export { run as runTask } from './actions/run-task/main.js'
export { run as collectEvidence } from './actions/collect-evidence/main.js'
export { run as cleanup } from './actions/cleanup/main.js'
export { run as smoke } from './actions/smoke/main.js'
export { run as e2e } from './actions/e2e/main.js'
export { runCli } from './cli/run-cli.js'
