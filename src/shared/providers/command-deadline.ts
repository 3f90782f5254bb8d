import { CancelledError, CommandTimeoutError, ExecStreamError } from '../errors.js'
import { formatDuration } from '../parse.js'

/**
 * Runs a remote command under its time limit, the same way for every provider:
 * the run gets a signal that fires on cancellation or at the deadline; when it
 * ends cancelled or with a broken stream, `kill` stops the remote process tree
 * (closing a stream does not end it); a deadline becomes a CommandTimeoutError.
 */
export async function withCommandDeadline<T>(
  timeoutMs: number,
  signal: AbortSignal | undefined,
  run: (signal: AbortSignal) => Promise<T>,
  kill: () => Promise<void>,
): Promise<T> {
  const timeout = new AbortController()
  const timer = setTimeout(() => timeout.abort(), timeoutMs)
  try {
    return await run(signal ? AbortSignal.any([signal, timeout.signal]) : timeout.signal)
  } catch (error) {
    if (error instanceof CancelledError || error instanceof ExecStreamError) await kill()
    if (error instanceof CancelledError && timeout.signal.aborted && !signal?.aborted) {
      throw new CommandTimeoutError(
        `The command ran longer than its timeout (${formatDuration(timeoutMs)}) and was stopped.`,
      )
    }
    throw error
  } finally {
    clearTimeout(timer)
  }
}
