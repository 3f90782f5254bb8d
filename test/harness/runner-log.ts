/**
 * Reads a step's stdout as the runner does and reports the workflow commands it
 * would obey (actions/runner src/Runner.Common/ActionCommand.cs TryParseV2 and
 * TryParse, src/Runner.Worker/ActionCommandManager.cs TryProcessCommand): `::name
 * props::data` after leading blanks, or `##[name props]data` anywhere in a line;
 * `::stop-commands::<token>` ignores everything until `::<token>::`.
 */
export interface ObeyedCommand {
  readonly command: string
  readonly properties: string
  readonly data: string
}

const REGISTERED = new Set([
  'add-mask',
  'add-matcher',
  'add-path',
  'debug',
  'echo',
  'endgroup',
  'error',
  'group',
  'notice',
  'remove-matcher',
  'save-state',
  'set-env',
  'set-output',
  'stop-commands',
  'warning',
])

export function obeyedCommands(log: string): ObeyedCommand[] {
  const obeyed: ObeyedCommand[] = []
  let stopToken: string | undefined
  for (const line of log.split(/\r\n|\r|\n/)) {
    const known = new Set(REGISTERED)
    if (stopToken) known.add(stopToken)
    const command = parseV2(line, known) ?? parseV1(line, known)
    if (!command) continue
    if (stopToken) {
      if (command.command.toLowerCase() === stopToken.toLowerCase()) stopToken = undefined
      continue
    }
    if (command.command === 'stop-commands') stopToken = command.data
    obeyed.push(command)
  }
  return obeyed
}

function parseV2(line: string, known: Set<string>): ObeyedCommand | undefined {
  const message = line.trimStart()
  if (!message.startsWith('::')) return undefined
  const end = message.indexOf('::', 2)
  if (end < 0) return undefined
  const info = message.slice(2, end)
  const space = info.indexOf(' ')
  const command = space < 0 ? info : info.slice(0, space)
  if (!has(known, command)) return undefined
  return { command, properties: space < 0 ? '' : info.slice(space + 1), data: message.slice(end + 2) }
}

function parseV1(line: string, known: Set<string>): ObeyedCommand | undefined {
  const prefix = line.indexOf('##[')
  if (prefix < 0) return undefined
  const close = line.indexOf(']', prefix)
  if (close < 0) return undefined
  const info = line.slice(prefix + 3, close)
  const space = info.indexOf(' ')
  const command = space < 0 ? info : info.slice(0, space)
  if (!has(known, command)) return undefined
  return { command, properties: space < 0 ? '' : info.slice(space + 1), data: line.slice(close + 1) }
}

function has(known: Set<string>, command: string): boolean {
  return [...known].some((k) => k.toLowerCase() === command.toLowerCase())
}
