import { createServer, type RequestListener, type Server } from 'node:http'
import { createServer as createHttpsServer } from 'node:https'
import { runCertificateAuthority } from '../kube/pki.js'

/** The simulated coderd's listener: plain http, or https with a certificate from the run's private CA. */
export interface CoderListener {
  readonly server: Server
  readonly scheme: 'http' | 'https'
  /** The PEM of the CA a client must trust (NODE_EXTRA_CA_CERTS, as a runner behind a private CA sets it). */
  readonly caCert?: string
}

/** A deployment behind a private CA serves https with a certificate its CA signed (coderd --tls-cert-file). */
export function coderListener(https: boolean, handler: RequestListener): CoderListener {
  if (!https) return { server: createServer(handler), scheme: 'http' }
  const ca = runCertificateAuthority()
  const { cert, key } = ca.serving('coderd')
  return { server: createHttpsServer({ cert, key }, handler), scheme: 'https', caCert: ca.cert }
}
