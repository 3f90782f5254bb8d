/**
 * The tools a contract may promise. Both providers run the contract's one image, so a
 * tool is never installed by one provider and missing from the other: the image has
 * it, and each generated file checks it with the tool's version command. The list is
 * the platform's (690 §5: git, gh, codex and its own CLI) plus what its entrypoints use.
 */
export const KNOWN_TOOLS: Readonly<Record<string, { readonly check: string }>> = {
  git: { check: 'git --version' },
  gh: { check: 'gh --version' },
  codex: { check: 'codex --version' },
  ameide: { check: 'ameide --version' },
  node: { check: 'node --version' },
  npm: { check: 'npm --version' },
  kubectl: { check: 'kubectl version --client' },
  helm: { check: 'helm version' },
  playwright: { check: 'npx --no-install playwright --version' },
  tar: { check: 'tar --version' },
  curl: { check: 'curl --version' },
}

/** One shell command that checks every tool and names the missing ones. */
export function toolCheckCommand(tools: readonly string[]): string {
  const checks = tools.map(
    (tool) => `${KNOWN_TOOLS[tool]?.check ?? 'false'} >/dev/null 2>&1 || missing="$missing ${tool}"`,
  )
  return `missing=''; ${checks.join('; ')}; if [ -n "$missing" ]; then echo "tools missing from the image:$missing" >&2; exit 1; fi`
}
