import { InputError } from '../errors.js'
import { type InputReader, inputOr } from '../inputs.js'
import { parseDuration, parseInteger } from '../parse.js'
import type { ProviderName } from '../provider.js'

/** The shared Gateway a run's route attaches to: `namespace/name`, and optionally one listener. */
export interface GatewayRef {
  readonly namespace: string
  readonly name: string
  readonly sectionName?: string
}

/** A namespace label that the Gateway listener's `allowedRoutes.namespaces.selector` admits. */
export interface NamespaceLabel {
  readonly key: string
  readonly value: string
}

/**
 * Validated routing inputs (issue 12): one header-diverted HTTPRoute per run, beside the baseline route, which
 * run-task never touches.
 */
export interface RouteSettings {
  readonly gateway: GatewayRef
  readonly hostname: string
  /** The run's backend Service; empty on Che means DevWorkspace Operator's workspace Service. */
  readonly backendService: string
  readonly backendPort: number
  readonly headerName: string
  /** Set when the run may label its own namespace so the listener admits the route. */
  readonly labelNamespace?: NamespaceLabel
  /** Coder: the namespace the route goes in; empty on Che (the workspace namespace). */
  readonly namespace: string
  /** Coder: the kubeconfig for that namespace (the `kubeconfig` input); empty on Che (the provider's). */
  readonly kubeconfig: string
  readonly timeoutMs: number
}

/** The label 690 §3 has the shared Gateway's listener select on. */
export const GATEWAY_ACCESS_LABEL: NamespaceLabel = { key: 'gateway-access', value: 'allowed' }
export const DEFAULT_HEADER_NAME = 'X-Run-Task-Route'

const DNS_LABEL = /^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$/
/** Gateway API SectionName: a DNS-1123 subdomain. */
const SECTION_NAME = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/
/** Gateway API PreciseHostname: no wildcard, no IP, at most 253 characters. */
const PRECISE_HOSTNAME = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/
/** Gateway API HTTPHeaderName: an RFC 7230 token. */
const HEADER_NAME = /^[A-Za-z0-9!#$%&'*+\-.^_`|~]+$/
/** A label key (an optional DNS subdomain prefix and a name) and value, as apimachinery validates them. */
const LABEL =
  /^(([a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*)\/)?[A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?=([A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?)?$/

/** Reads the route inputs; undefined when `route-gateway` is empty (no routing). Throws InputError before anything is created. */
export function getRouteSettings(read: InputReader, provider: ProviderName): RouteSettings | undefined {
  const gatewayValue = read('route-gateway').trim()
  if (!gatewayValue) {
    const stray = ROUTE_INPUTS.find((name) => read(name).trim())
    if (stray) throw new InputError(stray, read(stray).trim(), "no value, or a Gateway in 'route-gateway' as well")
    return undefined
  }
  const namespace = routeNamespace(read, provider)
  return {
    gateway: parseGateway(gatewayValue, namespace),
    hostname: parseHostname(read('route-hostname').trim()),
    backendService: backendService(read, provider),
    backendPort: parseInteger('route-backend-port', read('route-backend-port').trim(), 1, 65535),
    headerName: headerName(inputOr(read, 'route-header-name', DEFAULT_HEADER_NAME)),
    ...labelSetting(read('route-label-namespace').trim()),
    namespace,
    kubeconfig: provider === 'coder' ? coderKubeconfig(read) : '',
    timeoutMs: parseDuration('route-timeout', inputOr(read, 'route-timeout', '2m')),
  }
}

/** The inputs without a default that mean nothing without `route-gateway` (the runner sends the others' defaults). */
const ROUTE_INPUTS = ['route-hostname', 'route-backend-service', 'route-backend-port', 'route-namespace']

function routeNamespace(read: InputReader, provider: ProviderName): string {
  const value = read('route-namespace').trim()
  if (provider === 'che') {
    if (value)
      throw new InputError('route-namespace', value, "no value on Che: the route goes in the workspace's namespace")
    return ''
  }
  if (!DNS_LABEL.test(value))
    throw new InputError(
      'route-namespace',
      value,
      "the Kubernetes namespace (a DNS label) of the run's backend on Coder",
    )
  return value
}

/** `namespace/name` or `namespace/name/sectionName`; a bare `name` is a Gateway in the route's own namespace. */
function parseGateway(value: string, routeNs: string): GatewayRef {
  const parts = value.split('/')
  const [namespace, name, sectionName] = parts.length === 1 ? [routeNs, parts[0], undefined] : parts
  const ok =
    parts.length <= 3 &&
    (namespace === '' ? parts.length === 1 : DNS_LABEL.test(namespace ?? '')) &&
    SECTION_NAME.test(name ?? '') &&
    (sectionName === undefined || SECTION_NAME.test(sectionName))
  if (!ok)
    throw new InputError(
      'route-gateway',
      value,
      "the shared Gateway as 'namespace/name', or 'namespace/name/listener' to attach to one listener (its sectionName)",
    )
  return { namespace: namespace ?? '', name: name ?? '', ...(sectionName ? { sectionName } : {}) }
}

function parseHostname(value: string): string {
  if (value.length > 253 || !PRECISE_HOSTNAME.test(value))
    throw new InputError(
      'route-hostname',
      value,
      'the host name the baseline route serves (lowercase, no wildcard, no port), such as app.dev.example.com',
    )
  return value
}

function backendService(read: InputReader, provider: ProviderName): string {
  const value = read('route-backend-service').trim()
  if (!value && provider === 'che') return ''
  if (!DNS_LABEL.test(value) || /^[0-9]/.test(value))
    throw new InputError(
      'route-backend-service',
      value,
      provider === 'coder'
        ? "the name of the run's backend Service in route-namespace (a DNS-1035 label)"
        : "a Service name (a DNS-1035 label), or no value for the workspace's own Service",
    )
  return value
}

function headerName(value: string): string {
  if (value.length > 256 || !HEADER_NAME.test(value) || value.toLowerCase() === 'host')
    throw new InputError('route-header-name', value, 'an HTTP header name (an RFC 7230 token, not Host)')
  return value
}

function labelSetting(value: string): { labelNamespace?: NamespaceLabel } {
  if (value === '' || value === 'false') return {}
  if (value === 'true') return { labelNamespace: GATEWAY_ACCESS_LABEL }
  if (!LABEL.test(value) || value.split('=')[0]!.split('/').pop()!.length > 63)
    throw new InputError(
      'route-label-namespace',
      value,
      `true (label the namespace ${GATEWAY_ACCESS_LABEL.key}=${GATEWAY_ACCESS_LABEL.value}), false, or the label the listener selects as key=value`,
    )
  const [key, labelValue] = value.split('=') as [string, string]
  return { labelNamespace: { key, value: labelValue } }
}

function coderKubeconfig(read: InputReader): string {
  const value = read('kubeconfig')
  if (!value.trim())
    throw new InputError(
      'kubeconfig',
      '',
      'a kubeconfig for route-namespace: on Coder, routing creates the HTTPRoute with it',
    )
  return value
}
