import * as core from '@actions/core'
import path from 'node:path'
import { actionInputs, runAction } from '../../shared/action-runner.js'
import { reportContractDrift } from '../../shared/contract/check.js'
import { inputOr } from '../../shared/inputs.js'

/** Fails when a provider file generated from the environment contract has drifted from it. */
export async function run(): Promise<void> {
  await runAction((ctx) => {
    const contract = inputOr(actionInputs, 'contract', 'environment-contract.yaml')
    const root = path.resolve(ctx.env.GITHUB_WORKSPACE ?? process.cwd(), inputOr(actionInputs, 'root', '.'))
    const failure = reportContractDrift(root, contract, ctx.reporter)
    if (failure) core.setFailed(failure)
    return Promise.resolve()
  })
}
