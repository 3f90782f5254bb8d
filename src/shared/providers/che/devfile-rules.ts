/**
 * The devfile rules DWO's admission webhook enforces beyond the schema (devworkspace-operator
 * webhook/workspace/handler/validate.go with devfile/api pkg/validation ValidateProjects and ValidateEvents), checked
 * on the input so a devfile the cluster would refuse fails as bad input before anything is created.
 */
export function devfileRuleProblems(document: Readonly<Record<string, unknown>>): string[] {
  const problems: string[] = []
  const ids = new Set(((document.commands as { id?: string }[] | undefined) ?? []).map((c) => c.id?.toLowerCase()))
  const events = (document.events as Record<string, string[] | undefined> | undefined) ?? {}
  for (const [type, names] of Object.entries(events)) {
    for (const name of names ?? [])
      if (!ids.has(name.toLowerCase())) problems.push(`events.${type} names ${name}, which is not a command id`)
  }
  for (const key of ['projects', 'dependentProjects']) {
    const projects = (document[key] as { name?: string; git?: GitSource }[] | undefined) ?? []
    for (const p of projects) {
      const problem = p.git && remoteProblem(p.git)
      if (problem) problems.push(`${key} ${p.name ?? '(unnamed)'}: ${problem}`)
    }
  }
  return problems
}

interface GitSource {
  remotes?: Record<string, string>
  checkoutFrom?: { remote?: string }
}

function remoteProblem(git: GitSource): string | undefined {
  const remotes = Object.keys(git.remotes ?? {})
  const checkout = git.checkoutFrom?.remote
  if (remotes.length > 1 && !checkout)
    return `several git remotes (${remotes.join(', ')}) need checkoutFrom.remote naming one of them`
  if (checkout && !remotes.includes(checkout))
    return `checkoutFrom.remote ${checkout} is not one of the remotes (${remotes.join(', ')})`
  return undefined
}
