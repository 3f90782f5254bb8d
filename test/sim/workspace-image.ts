import { chmodSync, mkdirSync, rmSync, writeFileSync } from 'node:fs'
import { createServer, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import path from 'node:path'

/**
 * What the simulated workspace image ships besides the host's own tools: a `gh`
 * and a `codex` on PATH, and an IDE (code-server for Coder, che-code for Che)
 * listening on loopback with code-server's `/healthz`. Both simulators use it.
 */
export interface WorkspaceImage {
  /** Put this first on the workspace PATH. */
  readonly binDir: string
  /** The IDE's base URL, as the app's internal URL or the editor endpoint. */
  readonly ideUrl: string
  readonly idePort: number
  /** Fault switch: the IDE answers /healthz with 503 and `expired`. */
  ideUnhealthy: boolean
  /** Hostile workspace: text the IDE appends to its /healthz body (e.g. workflow-command lines). */
  healthBodySuffix: string
  /** Fault switch: Codex makes a different change than it was asked for. */
  codexStrays(): void
  /** Test spy: Codex prints the variable names it sees and its home; with `hang`, it then sleeps 60 s. */
  codexSpy(hang: boolean): void
  /** Fault switch: removes a tool from the image. */
  removeTool(name: string): void
  /** Fault switch: code-server no longer lists this extension. */
  removeExtension(id: string): void
  /** The GitHub token `coder external-auth access-token github` prints; undefined: the user never linked GitHub. */
  linkGithub(token: string | undefined): void
  close(): Promise<void>
}

const TOOLS: Record<string, string> = {
  // code-server's CLI: --list-extensions prints one extension id a line (the image ships the Codex one).
  'code-server': `#!/bin/sh
if [ "$1" = "--list-extensions" ]; then cat "$(dirname "$0")/.extensions"; exit 0; fi
echo "code-server (sim): only --list-extensions is simulated" >&2; exit 2
`,
  // The coder CLI inside a workspace: external-auth access-token prints the linked token, or the URL
  // to link it and exits 1 (cli/externalauth.go externalAuthAccessToken).
  coder: `#!/bin/sh
if [ "$1 $2" = "external-auth access-token" ]; then
  f="$(dirname "$0")/.external-auth-$3"
  if [ -s "$f" ]; then cat "$f"; exit 0; fi
  echo "https://coder.example.test/external-auth/$3"; exit 1
fi
echo "coder (sim): only external-auth access-token is simulated" >&2; exit 2
`,
  gh: `#!/bin/sh
case "$1" in
  --version|version) echo "gh version 2.63.0-sim (2026-01-01)"; exit 0 ;;
  *) echo "gh: '$1' is not simulated" >&2; exit 1 ;;
esac
`,
  // Codex CLI stand-in: 'codex exec' makes the one change the E2E prompt asks for,
  // and, like the real CLI, refuses to work without an auth file.
  codex: `#!/bin/sh
if [ "$1" = "--version" ]; then echo "codex-cli 0.99.0-sim"; exit 0; fi
if [ "$1" != "exec" ]; then echo "codex: only 'exec' is simulated" >&2; exit 2; fi
shift
while [ $# -gt 1 ]; do shift; done
auth="\${CODEX_HOME:-$HOME/.codex}/auth.json"
if [ ! -s "$auth" ]; then echo "Not logged in. Run 'codex login' or provide auth.json." >&2; exit 1; fi
line=$(printf '%s\\n' "$1" | sed -n 's/.*Append exactly this line to README.md: \\(.*\\)$/\\1/p')
if [ -z "$line" ]; then echo "codex (sim): I only know how to append a line to README.md" >&2; exit 1; fi
if [ -f "$(dirname "$0")/.codex-strays" ]; then line="$line, and then some"; fi
# Test spy: what Codex could see (variable names only), where its home is, and a hang to be killed.
if [ -f "$(dirname "$0")/.codex-spy" ]; then
  echo "codex (sim) env: $(env | cut -d= -f1 | grep -E '^(E2E_|GIT_|GH_)' | sort | tr '\\n' ' ')"
  echo "codex (sim) home: $CODEX_HOME $(cat "$CODEX_HOME/config.toml")"
  if [ -f "$(dirname "$0")/.codex-hang" ]; then sleep 60; fi
fi
printf '%s\\n' "$line" >> README.md
echo "codex (sim): appended one line to README.md"
`,
}

const EXTENSIONS = ['ms-python.python', 'openai.chatgpt']

export async function startWorkspaceImage(root: string): Promise<WorkspaceImage> {
  const binDir = path.join(root, 'image-bin')
  mkdirSync(binDir, { recursive: true })
  for (const [name, script] of Object.entries(TOOLS)) {
    writeFileSync(path.join(binDir, name), script)
    chmodSync(path.join(binDir, name), 0o755)
  }
  writeFileSync(path.join(binDir, '.extensions'), EXTENSIONS.map((e) => `${e}\n`).join(''))
  writeFileSync(path.join(binDir, '.external-auth-github'), 'gho_simulatedGithubToken0123456789\n')
  const state = { unhealthy: false, suffix: '' }
  const server: Server = createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://ide')
    if (url.pathname === '/healthz') {
      // code-server's answer: {"status":"alive"|"expired","lastHeartbeat":<ms>}
      const body = JSON.stringify({ status: state.unhealthy ? 'expired' : 'alive', lastHeartbeat: Date.now() })
      res.writeHead(state.unhealthy ? 503 : 200, { 'Content-Type': 'application/json' })
      return void res.end(body + state.suffix)
    }
    res.writeHead(200, { 'Content-Type': 'text/html; charset=utf-8' })
    res.end('<!doctype html><html><head><title>code-server</title></head><body>IDE (simulated)</body></html>')
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const port = (server.address() as AddressInfo).port
  return {
    binDir,
    ideUrl: `http://127.0.0.1:${port}`,
    idePort: port,
    get ideUnhealthy() {
      return state.unhealthy
    },
    set ideUnhealthy(value: boolean) {
      state.unhealthy = value
    },
    get healthBodySuffix() {
      return state.suffix
    },
    set healthBodySuffix(value: string) {
      state.suffix = value
    },
    codexStrays: () => writeFileSync(path.join(binDir, '.codex-strays'), ''),
    codexSpy: (hang) => {
      writeFileSync(path.join(binDir, '.codex-spy'), '')
      if (hang) writeFileSync(path.join(binDir, '.codex-hang'), '')
      else rmSync(path.join(binDir, '.codex-hang'), { force: true })
    },
    removeTool: (name) => rmSync(path.join(binDir, name), { force: true }),
    removeExtension: (id) =>
      writeFileSync(
        path.join(binDir, '.extensions'),
        EXTENSIONS.filter((e) => e !== id)
          .map((e) => `${e}\n`)
          .join(''),
      ),
    linkGithub: (token) =>
      token === undefined
        ? rmSync(path.join(binDir, '.external-auth-github'), { force: true })
        : writeFileSync(path.join(binDir, '.external-auth-github'), `${token}\n`),
    close: async () => {
      server.closeAllConnections()
      await new Promise<void>((resolve) => server.close(() => resolve()))
    },
  }
}

/** The workspace PATH: the image's tools, then the host's. */
export function imagePath(image: WorkspaceImage): string {
  return `${image.binDir}:${process.env.PATH ?? '/usr/local/bin:/usr/bin:/bin'}`
}
