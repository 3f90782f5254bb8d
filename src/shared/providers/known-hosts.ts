import { createHash } from 'node:crypto'

/** A host key listed in `ssh-known-hosts`. */
export interface KnownHostKey {
  /** The key type, e.g. `ssh-ed25519`. */
  readonly type: string
  /** The public key blob in SSH wire format (what the server sends in key exchange). */
  readonly blob: Buffer
  /** Listed with `@revoked`: a server presenting it is refused. */
  readonly revoked: boolean
}

/** What `parseKnownHosts` found: the usable keys, and a problem per line it could not use. */
export interface KnownHosts {
  readonly keys: readonly KnownHostKey[]
  readonly problems: readonly string[]
}

/**
 * Parses OpenSSH known_hosts text (sshd(8) "SSH_KNOWN_HOSTS FILE FORMAT": `[@marker]
 * hostpatterns keytype base64-key [comment]`, plain or hashed `|1|salt|hash` host names, as
 * `ssh-keyscan [-H]` prints them), and bare public key lines (`keytype base64-key [comment]`,
 * a `.pub` file). Host patterns are not matched: the tunnel command hides the host name, so
 * every listed key is trusted for the tunnel's server. `@cert-authority` lines are not
 * supported (ssh2 does not check host certificates) and are reported as problems.
 */
export function parseKnownHosts(text: string): KnownHosts {
  const keys: KnownHostKey[] = []
  const problems: string[] = []
  text.split(/\r?\n/).forEach((raw, index) => {
    const line = raw.trim()
    if (!line || line.startsWith('#')) return
    const fields = line.split(/\s+/)
    const marker = fields[0]?.startsWith('@') ? fields.shift() : undefined
    if (marker !== undefined && marker !== '@revoked') {
      problems.push(`line ${index + 1}: the marker ${marker} is not supported (only plain keys and @revoked)`)
      return
    }
    const key = keyAt(fields, 1) ?? (marker === undefined ? keyAt(fields, 0) : undefined)
    if (!key) problems.push(`line ${index + 1}: not "hostpatterns keytype base64-key" with a key of that type`)
    else keys.push({ ...key, revoked: marker === '@revoked' })
  })
  return { keys, problems }
}

/** The key whose type is `fields[at]` and whose base64 blob is `fields[at + 1]`, when they agree. */
function keyAt(fields: readonly string[], at: number): { type: string; blob: Buffer } | undefined {
  const type = fields[at]
  const encoded = fields[at + 1]
  if (!type || !encoded || !/^[A-Za-z0-9+/]+={0,2}$/.test(encoded)) return undefined
  const blob = Buffer.from(encoded, 'base64')
  return blobType(blob) === type ? { type, blob } : undefined
}

/** The key type a wire-format blob starts with (an SSH `string`: uint32 length, then bytes). */
function blobType(blob: Buffer): string | undefined {
  if (blob.length < 4) return undefined
  const length = blob.readUInt32BE(0)
  return length > 0 && length < 64 && blob.length >= 4 + length ? blob.subarray(4, 4 + length).toString() : undefined
}

/** The fingerprint `ssh-keygen -l` prints: `SHA256:` and the unpadded base64 SHA-256 of the blob. */
export function fingerprint(blob: Buffer): string {
  return `SHA256:${createHash('sha256').update(blob).digest('base64').replace(/=+$/, '')}`
}

/** Why the server's host key is refused, or undefined when it is listed and not revoked. */
export function hostKeyProblem(known: readonly KnownHostKey[], presented: Buffer): string | undefined {
  const match = known.filter((k) => k.blob.equals(presented))
  const shown = `${blobType(presented) ?? 'unknown type'} ${fingerprint(presented)}`
  if (match.some((k) => k.revoked)) return `the server's host key ${shown} is marked @revoked in ssh-known-hosts`
  if (match.length === 0)
    return `the server's host key ${shown} is not in ssh-known-hosts (someone may be impersonating the server, or its key changed)`
  return undefined
}
