import { Writable } from 'node:stream'
import { EvidenceError } from '../errors.js'
import { createSafeExtractor } from '../evidence/safe-extract.js'
import type { DownloadResult } from '../provider.js'
import { TAR_MISSING_DIR_EXIT } from './exec-script.js'

/** Runs the tar command with these streams; resolves with its exit code. */
export type TarRunner = (stdout: Writable, stderr: Writable, signal: AbortSignal) => Promise<number | null>

/**
 * Streams a remote directory out as one tar and extracts it safely. An unsafe or
 * oversized archive stops the remote side too; a missing directory is not an error.
 */
export async function downloadTar(
  run: TarRunner,
  remoteDir: string,
  localDir: string,
  maxBytes: number,
  signal?: AbortSignal,
): Promise<DownloadResult> {
  const extractor = createSafeExtractor(localDir, maxBytes)
  const stderr = textSink()
  const stop = new AbortController()
  extractor.done.catch(() => stop.abort())
  let exitCode: number | null
  try {
    exitCode = await run(
      extractor.writable,
      stderr.writable,
      signal ? AbortSignal.any([signal, stop.signal]) : stop.signal,
    )
  } catch (error) {
    if (stop.signal.aborted) await extractor.done
    throw error
  }
  if (!extractor.writable.writableEnded) extractor.writable.end()
  if (exitCode === TAR_MISSING_DIR_EXIT) return { files: 0, bytes: 0, skipped: [], found: false }
  const result = await extractor.done
  if (exitCode !== 0)
    throw new EvidenceError(
      `tar in the workspace exited with ${exitCode ?? 'a signal'} while reading ${remoteDir}: ${stderr.text().slice(-500)}`,
    )
  return { ...result, found: true }
}

/** A writable that keeps what it is given, for short outputs such as stderr. */
export function textSink(): { writable: Writable; text: () => string } {
  const chunks: Buffer[] = []
  return {
    writable: new Writable({
      write(chunk: Buffer, _encoding, callback) {
        chunks.push(chunk)
        callback()
      },
    }),
    text: () => Buffer.concat(chunks).toString('utf8'),
  }
}
