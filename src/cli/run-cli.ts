import { main } from './main.js'

/**
 * The CLI process: SIGINT and SIGTERM cancel waits, and cleanup still runs. A second one
 * exits at once, through process.exit so the 'exit' handlers (credential copies) still run.
 */
export async function runCli(): Promise<void> {
  const controller = new AbortController()
  const onSignal = (signal: NodeJS.Signals): void => {
    if (controller.signal.aborted) process.exit(signal === 'SIGINT' ? 130 : 143)
    controller.abort()
  }
  process.on('SIGINT', onSignal)
  process.on('SIGTERM', onSignal)
  process.exitCode = await main(process.argv.slice(2), process.env, { signal: controller.signal })
}
