import { InputError } from '../shared/errors.js'
import { renderRoutingRbac, type WorkspaceIdentity } from '../shared/rbac/bootstrap.js'

const USAGE_LINE =
  '--namespace NS and one of --user NAME or --service-account NS/NAME, and --label-namespace to let it label NS'

/**
 * `run-task rbac render --namespace NS (--user NAME | --service-account NS/NAME) [--label-namespace]`: writes the
 * GitOps-owned routing RBAC for the namespace to standard output (for `kubectl apply -f -` or a GitOps repository;
 * the log goes to standard error). Returns the exit status.
 */
export function rbacCommand(argv: readonly string[], write: (yaml: string) => void): number {
  const [action, ...rest] = argv
  if (action !== 'render') throw new InputError('rbac', action ?? '', 'a subcommand: render')
  const flags = new Map<string, string>()
  for (let i = 0; i < rest.length; i++) {
    const name = rest[i] ?? ''
    if (name === '--label-namespace') flags.set(name, 'true')
    else if (['--namespace', '--user', '--service-account'].includes(name) && rest[i + 1] !== undefined)
      flags.set(name, rest[++i] as string)
    else throw new InputError('command-line', rest.join(' '), USAGE_LINE)
  }
  write(
    renderRoutingRbac({
      namespace: flags.get('--namespace') ?? '',
      identity: identityOf(flags),
      labelNamespace: flags.has('--label-namespace'),
    }),
  )
  return 0
}

function identityOf(flags: ReadonlyMap<string, string>): WorkspaceIdentity {
  const user = flags.get('--user')
  const account = flags.get('--service-account')
  if ((user === undefined) === (account === undefined))
    throw new InputError('command-line', [...flags.keys()].join(' '), `exactly one identity: ${USAGE_LINE}`)
  if (user !== undefined) return { kind: 'User', name: user }
  const [namespace = '', name = ''] = (account as string).split('/')
  return { kind: 'ServiceAccount', namespace, name }
}
