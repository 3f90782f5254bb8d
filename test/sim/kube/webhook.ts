/**
 * DWO's validating admission webhook for DevWorkspaces (devworkspace-operator webhook/workspace/handler/validate.go
 * ValidateDevfile): devfile/api pkg/validation ValidateEvents and ValidateProjects on the template. A denial reaches
 * the client as the apiserver's 403 "admission webhook … denied the request" (controller-runtime admission.Denied).
 */

export const WEBHOOK_NAME = 'validate.devworkspace-controller.svc'

interface Project {
  name?: string
  git?: { remotes?: Record<string, string>; checkoutFrom?: { remote?: string } }
}

/** The webhook's problems with a DevWorkspace template; empty when it is admitted. */
export function webhookProblems(template: Record<string, unknown> | undefined): string[] {
  const problems: string[] = []
  const events = eventProblems(
    template?.events as Record<string, unknown> | undefined,
    (template?.commands as { id?: string }[] | undefined) ?? [],
  )
  if (events) problems.push(events)
  for (const key of ['projects', 'dependentProjects']) {
    const projects = projectProblems((template?.[key] as Project[] | undefined) ?? [])
    if (projects) problems.push(projects)
  }
  return problems
}

/** devfile/api pkg/validation/events.go ValidateEvents: each event names an existing command id. */
function eventProblems(events: Record<string, unknown> | undefined, commands: { id?: string }[]): string | undefined {
  if (!events) return undefined
  const ids = new Set(commands.map((c) => c.id?.toLowerCase()))
  const errors: string[] = []
  for (const type of ['preStart', 'postStart', 'preStop', 'postStop']) {
    const names = (events[type] as string[] | undefined) ?? []
    const missing = names.filter((n) => !ids.has(n.toLowerCase()))
    if (missing.length > 0)
      errors.push(`${type} type events are invalid: \n${missing.join(', ')} does not map to a valid devfile command`)
  }
  return errors.length > 0 ? errors.join('\n') : undefined
}

/** devfile/api pkg/validation/projects.go ValidateProjects: several remotes need `checkoutFrom.remote`, which must exist. */
function projectProblems(projects: Project[]): string | undefined {
  const errors: string[] = []
  for (const p of projects) {
    if (!p.git) continue
    const remotes = Object.keys(p.git.remotes ?? {})
    const checkout = p.git.checkoutFrom?.remote
    if (remotes.length === 0) errors.push(`projects ${p.name} should have at least one remote`)
    else if (remotes.length > 1 && !checkout)
      errors.push(`project ${p.name} has more than one remote defined, but has no checkoutfrom remote defined`)
    else if (checkout && !remotes.includes(checkout))
      errors.push(`unable to find the checkout remote ${checkout} in the remotes for project ${p.name}`)
  }
  return errors.length > 0 ? `error validating projects:\n${errors.join('\n')}` : undefined
}
