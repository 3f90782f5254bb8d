import { main } from './main.js'

/** The CLI process: SIGINT and SIGTERM cancel waits, and cleanup still runs. */
export async function runCli(): Promise<void> {
  const controller = new AbortController()
  process.once('SIGINT', () => controller.abort())
  process.once('SIGTERM', () => controller.abort())
  process.exitCode = await main(process.argv.slice(2), process.env, { signal: controller.signal })
}
