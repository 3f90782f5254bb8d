/** The output path: redaction of command output. */
import { Redactor, redactingStream } from '../../src/shared/redact.js'
import { type BenchRow, mib, timed } from '../lib.js'

export async function benchOutput(): Promise<BenchRow[]> {
  const redactor = new Redactor()
  redactor.add('s3cr3t-value-0123456789')
  const line = `${'x'.repeat(100)} s3cr3t-value-0123456789 ${'y'.repeat(100)}\n`
  const count = 200_000
  const redacting = redactingStream(redactor, () => undefined)
  const [, redactMs] = await timed(async () => {
    for (let i = 0; i < count; i++) redacting.write(line)
    await new Promise<void>((resolve) => redacting.end(resolve))
  })
  const size = line.length * count
  return [
    {
      figure: `redact ${mib(size).toFixed(0)} MiB of output lines (1 secret)`,
      value: `${(mib(size) / (redactMs / 1000)).toFixed(0)} MiB/s`,
    },
  ]
}
