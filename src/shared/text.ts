/** The first line of a text, without the line break; '' for an empty text. */
export function firstLine(text: string): string {
  const end = text.indexOf('\n')
  return end === -1 ? text : text.slice(0, end)
}

/** How a command ended, for messages: "code 3", or "signal SIGKILL" when a signal ended it. */
export function exitDescription(exitCode: number | null, signal?: string | null): string {
  return exitCode === null ? `signal ${signal ?? 'unknown'}` : `code ${exitCode}`
}
