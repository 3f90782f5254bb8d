import { execFileSync } from 'node:child_process'
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import path from 'node:path'

/** A PEM certificate and its private key. */
export interface KeyPair {
  readonly cert: string
  readonly key: string
}

/** A private certificate authority, made with openssl, as kubeadm, kind and k3s make one per cluster. */
export interface CertificateAuthority extends KeyPair {
  /** A serving certificate for loopback (`IP:127.0.0.1`, `DNS:localhost`), `serverAuth`; one per name. */
  serving(commonName: string): KeyPair
  /**
   * A client certificate as the apiserver's x509 authenticator reads it: the subject's CN is the user
   * and each O a group (k8s.io/apiserver pkg/authentication/request/x509/x509.go CommonNameUserConversion).
   */
  client(user: string, groups: readonly string[]): KeyPair
}

/** EC P-256 keys: quick to make, and what kubeadm makes since 1.31 when asked for ECDSA. */
const KEY = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes']

/** Makes a fresh CA (valid one day) in a temp folder that is removed before this returns. */
export function createCertificateAuthority(name = 'run-task-sim-ca'): CertificateAuthority {
  const ca = withFolder((dir) => {
    run(dir, [
      'req',
      '-x509',
      ...KEY,
      '-keyout',
      'ca.key',
      '-out',
      'ca.crt',
      '-days',
      '1',
      '-subj',
      `/CN=${name}`,
      '-addext',
      'basicConstraints=critical,CA:TRUE',
      '-addext',
      'keyUsage=critical,keyCertSign,cRLSign,digitalSignature',
    ])
    return { cert: read(dir, 'ca.crt'), key: read(dir, 'ca.key') }
  })
  const issue = (subject: string, extensions: string[]): KeyPair =>
    withFolder((dir) => {
      writeFileSync(path.join(dir, 'ca.crt'), ca.cert)
      writeFileSync(path.join(dir, 'ca.key'), ca.key, { mode: 0o600 })
      run(dir, [
        'req',
        '-x509',
        ...KEY,
        '-CA',
        'ca.crt',
        '-CAkey',
        'ca.key',
        '-keyout',
        'leaf.key',
        '-out',
        'leaf.crt',
        '-days',
        '1',
        '-subj',
        subject,
        ...extensions.flatMap((e) => ['-addext', e]),
      ])
      return { cert: read(dir, 'leaf.crt'), key: read(dir, 'leaf.key') }
    })
  const servingCerts = new Map<string, KeyPair>()
  const serving = (commonName: string): KeyPair => {
    const cached = servingCerts.get(commonName)
    if (cached) return cached
    const pair = issue(`/CN=${commonName}`, [
      'subjectAltName=IP:127.0.0.1,DNS:localhost',
      'extendedKeyUsage=serverAuth',
      'keyUsage=critical,digitalSignature,keyEncipherment',
      'basicConstraints=critical,CA:FALSE',
    ])
    servingCerts.set(commonName, pair)
    return pair
  }
  return {
    ...ca,
    serving,
    client: (user, groups) =>
      issue(`${groups.map((g) => `/O=${escapeRdn(g)}`).join('')}/CN=${escapeRdn(user)}`, [
        'extendedKeyUsage=clientAuth',
        'keyUsage=critical,digitalSignature,keyEncipherment',
        'basicConstraints=critical,CA:FALSE',
      ]),
  }
}

let shared: CertificateAuthority | undefined

/** One CA per test process (per run): every simulator it starts serves a certificate from it. */
export function runCertificateAuthority(): CertificateAuthority {
  shared ??= createCertificateAuthority()
  return shared
}

function escapeRdn(value: string): string {
  return value.replace(/[/=\\]/g, (c) => `\\${c}`)
}

function run(dir: string, args: string[]): void {
  try {
    execFileSync('openssl', args, { cwd: dir, stdio: ['ignore', 'ignore', 'pipe'] })
  } catch (error) {
    const stderr = (error as { stderr?: Buffer }).stderr?.toString() ?? ''
    throw new Error(`openssl ${args[0]} failed (is openssl 3 installed? scripts/setup.sh installs it): ${stderr}`)
  }
}

function read(dir: string, file: string): string {
  return readFileSync(path.join(dir, file), 'utf8')
}

function withFolder<T>(fn: (dir: string) => T): T {
  const dir = mkdtempSync(path.join(tmpdir(), 'sim-pki-'))
  try {
    return fn(dir)
  } finally {
    rmSync(dir, { recursive: true, force: true })
  }
}
