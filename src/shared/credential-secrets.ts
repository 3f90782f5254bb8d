import { parse } from 'yaml'

/*
 * The runner masks a multi-line secret whole and line by line; a kubeconfig line
 * is `token: abc`, so the bare token, a base64 `client-key-data` once decoded, or
 * a refresh token inside a Codex auth.json would still show. These helpers pull
 * the values out, so they are masked and redacted on their own.
 */

const MIN_LENGTH = 8

/** The credentials inside a kubeconfig: tokens, passwords, client keys (base64 and decoded, line by line). */
export function kubeconfigSecrets(kubeconfig: string): string[] {
  if (!kubeconfig.trim()) return []
  let doc: { users?: Array<{ user?: Record<string, unknown> }> }
  try {
    doc = (parse(kubeconfig) ?? {}) as typeof doc
  } catch {
    return []
  }
  const found: string[] = []
  for (const { user } of doc.users ?? []) {
    if (!user) continue
    for (const field of ['token', 'password']) if (typeof user[field] === 'string') found.push(user[field] as string)
    const keyData = user['client-key-data']
    if (typeof keyData === 'string') {
      found.push(keyData)
      found.push(...pemBody(Buffer.from(keyData, 'base64').toString('utf8')))
    }
    const authProvider = (user['auth-provider'] as { config?: Record<string, unknown> } | undefined)?.config ?? {}
    for (const field of ['access-token', 'id-token', 'refresh-token', 'client-secret'])
      if (typeof authProvider[field] === 'string') found.push(authProvider[field] as string)
  }
  return unique(found)
}

/** The tokens inside a Codex auth.json: the API key and every string under `tokens` (refresh token included). */
export function codexAuthSecrets(authJson: string): string[] {
  let doc: { OPENAI_API_KEY?: unknown; tokens?: Record<string, unknown> }
  try {
    doc = JSON.parse(authJson) as typeof doc
  } catch {
    return []
  }
  const found = [doc.OPENAI_API_KEY, ...Object.values(doc.tokens ?? {})].filter(
    (v): v is string => typeof v === 'string',
  )
  return unique(found)
}

/** A PEM key without its `-----BEGIN/END` lines, which are the same in every key. */
function pemBody(pem: string): string[] {
  const lines = pem
    .split(/\r?\n/)
    .map((l) => l.trim())
    .filter((l) => l && !l.startsWith('-----'))
  return lines.length ? [lines.join('\n'), ...lines] : []
}

function unique(values: string[]): string[] {
  return [...new Set(values.filter((v) => v.trim().length >= MIN_LENGTH))]
}
