import { stringify } from 'yaml'
import type { KeyPair } from './pki.js'

/** How a kubeconfig user authenticates: a bearer token, or a client certificate and its key. */
export type Credentials = { readonly token: string } | { readonly certificate: KeyPair }

/**
 * A kubeconfig as kubeadm, kind and k3s write them: the server's CA inline as certificate-authority-data,
 * and the user's token, or its certificate and key as client-certificate-data / client-key-data. Field names as
 * kubernetes/client-go tools/clientcmd/api/v1/types.go (Config, Cluster, AuthInfo) and client-node's
 * src/config_types.ts (newClusters, newUsers) read them.
 */
export function kubeconfigFor(url: string, caCert: string, credentials: Credentials): string {
  const base64 = (text: string): string => Buffer.from(text).toString('base64')
  const user =
    'token' in credentials
      ? { token: credentials.token }
      : {
          'client-certificate-data': base64(credentials.certificate.cert),
          'client-key-data': base64(credentials.certificate.key),
        }
  return stringify({
    apiVersion: 'v1',
    kind: 'Config',
    clusters: [{ name: 'sim', cluster: { server: url, 'certificate-authority-data': base64(caCert) } }],
    users: [{ name: 'run-task', user }],
    contexts: [{ name: 'sim', context: { cluster: 'sim', user: 'run-task' } }],
    'current-context': 'sim',
  })
}
