import { KubeConfig } from '@kubernetes/client-node'
import { existsSync, readFileSync } from 'node:fs'
import path from 'node:path'
import { InputError } from '../errors.js'
import { type InputReader, inputOr } from '../inputs.js'
import { parseEnum } from '../parse.js'
import type { CheSettings } from '../providers/che/che-settings.js'
import { checkExecPlugin, kubeconfigWarnings } from '../providers/che/kubeconfig-checks.js'
import { UNSAFE_POD_FIELDS, type UnsafePodField } from '../providers/che/pod-guardrails.js'
import {
  buildDevWorkspace,
  CHE_ROUTING_CLASS,
  containerComponents,
  type Devfile,
  loadDevfile,
  parseTemplateRef,
  STORAGE_TYPES,
  type TemplateRef,
} from '../providers/che/devworkspace.js'
import { firstLine } from '../text.js'
import { applyEnvProxy } from '../proxy.js'
import type { ProvisionContract } from '../contract/provision-contract.js'

// The Che inputs live apart from provision-settings.ts so that a Coder step never
// loads @kubernetes/client-node or the devfile schemas (see provision-settings.ts).

const DNS_LABEL = /^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$/

/** Reads and checks the Che inputs of the provision step. */
export function getCheSettings(
  read: InputReader,
  env: NodeJS.ProcessEnv,
  cwd: string,
  contract?: ProvisionContract,
): CheSettings {
  const kubeconfig = read('kubeconfig')
  const kc = loadKubeConfig(kubeconfig)
  checkExecPlugin(kc)
  const namespace =
    read('namespace').trim() || kc.getContextObject(kc.getCurrentContext())?.namespace || inClusterNamespace()
  if (!namespace || !DNS_LABEL.test(namespace)) {
    throw new InputError(
      'namespace',
      namespace ?? '',
      "a Kubernetes namespace (a DNS label); the kubeconfig's context names none",
    )
  }
  const devfile = contract ? contractDevfile(read, env, cwd, contract) : readDevfile(read, env, cwd)
  const templateValue = read('devworkspace-template').trim()
  const template = templateValue ? parseTemplateRef('devworkspace-template', templateValue) : undefined
  if (!devfile && !template) {
    throw new InputError(
      'devfile',
      '',
      'a devfile path or inline YAML, or a DevWorkspaceTemplate in devworkspace-template (no devfile.yaml or .devfile.yaml in the repository either)',
    )
  }
  const editorValue = read('editor').trim()
  const editor = editorValue ? parseTemplateRef('editor', editorValue) : undefined
  const storageValue = read('storage-type').trim()
  const storageType = storageValue ? parseEnum('storage-type', storageValue, STORAGE_TYPES) : undefined
  const container = read('container').trim()
  checkContainer(devfile, template, container)
  const routingClass = inputOr(read, 'routing-class', CHE_ROUTING_CLASS)
  if (!DNS_LABEL.test(routingClass))
    throw new InputError(
      'routing-class',
      routingClass,
      "a DevWorkspace routing class: 'che' on Eclipse Che, 'basic' on a DevWorkspace operator with clusterHostSuffix",
    )
  const source = {
    ...(storageType ? { storageType } : {}),
    ...(devfile ? { devfile } : {}),
    ...(template ? { template } : {}),
    ...(editor ? { editor } : {}),
  }
  // Build once now, so a DevWorkspace the schema rejects fails here, before anything exists.
  buildDevWorkspace(
    source,
    { name: 'validation', namespace, labels: {} },
    { routingClass },
    devfile ? 'devfile' : 'devworkspace-template',
  )
  const allowUnsafePod = parseAllowUnsafePod(read('allow-unsafe-pod'))
  return { kubeconfig, namespace, source, container, routingClass, allowUnsafePod, warnings: kubeconfigWarnings(kc) }
}

/** `allow-unsafe-pod`: pod settings that reach the node, named one by one; `privileged` is never allowed. */
function parseAllowUnsafePod(value: string): UnsafePodField[] {
  const names = value.split(/[\s,]+/).filter(Boolean)
  for (const name of names)
    if (!(UNSAFE_POD_FIELDS as readonly string[]).includes(name))
      throw new InputError(
        'allow-unsafe-pod',
        value,
        `a list of ${UNSAFE_POD_FIELDS.join(', ')} (got '${name}'${name === 'privileged' ? ': a privileged container is never allowed' : ''})`,
      )
  return [...new Set(names)] as UnsafePodField[]
}

/** Checks a kubeconfig input as Che's is checked (it parses, names a cluster, runs no exec plugin), before anything is created. */
export function checkKubeconfig(content: string): void {
  checkExecPlugin(loadKubeConfig(content))
}

/** Loads a kubeconfig from content, or the default chain ($KUBECONFIG, ~/.kube/config, in-cluster) when empty. */
export function loadKubeConfig(content: string): KubeConfig {
  const kc = new KubeConfig()
  try {
    if (content.trim()) kc.loadFromString(content)
    else kc.loadFromDefault()
  } catch (error) {
    throw new InputError(
      'kubeconfig',
      '(content hidden)',
      `a kubeconfig YAML document (${firstLine((error as Error).message)})`,
    )
  }
  if (!kc.getCurrentCluster())
    throw new InputError('kubeconfig', '(content hidden)', 'a kubeconfig whose current-context names a cluster')
  applyEnvProxy(kc)
  return kc
}

function readDevfile(read: InputReader, env: NodeJS.ProcessEnv, cwd: string): Devfile | undefined {
  const baseDir = env.GITHUB_WORKSPACE ?? cwd
  const value = read('devfile')
  if (value.trim()) return loadDevfile('devfile', value, baseDir)
  if (read('devworkspace-template').trim()) return undefined
  const found = ['devfile.yaml', '.devfile.yaml'].find((f) => existsSync(path.join(baseDir, f)))
  return found ? loadDevfile('devfile', found, baseDir) : undefined
}

/**
 * The contract's task devfile, with the repository as its project (the checkout convention: cloned into
 * `/projects/<checkout.directory>` at the commit under test) when the job names one.
 */
function contractDevfile(read: InputReader, env: NodeJS.ProcessEnv, cwd: string, contract: ProvisionContract): Devfile {
  for (const input of ['devfile', 'devworkspace-template'])
    if (read(input).trim())
      throw new InputError(
        input,
        read(input).trim(),
        `nothing when a contract is given: the contract's devfile is the workspace`,
      )
  const loaded = loadDevfile('contract', contract.taskDevfile, env.GITHUB_WORKSPACE ?? cwd)
  const document = { ...loaded.document }
  if (env.GITHUB_REPOSITORY && !document.projects)
    document.projects = [
      {
        name: contract.defaults.checkoutDirectory,
        git: {
          remotes: { origin: `${env.GITHUB_SERVER_URL ?? 'https://github.com'}/${env.GITHUB_REPOSITORY}.git` },
          ...(env.GITHUB_SHA ? { checkoutFrom: { revision: env.GITHUB_SHA } } : {}),
        },
      },
    ]
  return { origin: `contract ${contract.defaults.file}`, document }
}

function checkContainer(devfile: Devfile | undefined, template: TemplateRef | undefined, container: string): void {
  if (container && !DNS_LABEL.test(container))
    throw new InputError('container', container, 'a devfile component name (a DNS label)')
  const components = containerComponents(devfile)
  if (template) return // The template's components are only known once the workspace starts.
  if (components.length === 0)
    throw new InputError(
      'devfile',
      devfile?.origin ?? '',
      'a devfile with at least one container component to run the command in',
    )
  if (container && !components.includes(container))
    throw new InputError('container', container, `one of the devfile's container components: ${components.join(', ')}`)
}

function inClusterNamespace(): string | undefined {
  const file = '/var/run/secrets/kubernetes.io/serviceaccount/namespace'
  return existsSync(file) ? readFileSync(file, 'utf8').trim() : undefined
}
