/**
 * The environment for a process that carries the connection to the workspace
 * (the SSH tunnel command): what a shell and an SSH client need, the proxy
 * settings, the trust settings (a deployment behind a private CA: `SSL_CERT_FILE`
 * and `SSL_CERT_DIR` for the Go `coder` CLI, `NODE_EXTRA_CA_CERTS` for a Node one),
 * and nothing else. A runner's environment holds the action inputs
 * (`INPUT_*`, secrets among them), `ACTIONS_RUNTIME_TOKEN`, `GITHUB_TOKEN` and
 * whatever earlier steps exported; none of it may reach a custom tunnel command.
 */
const KEPT =
  /^(PATH|HOME|USER|LOGNAME|SHELL|TMPDIR|TZ|LANG|LC_[A-Z]+|TERM|SSH_AUTH_SOCK|SSL_CERT_FILE|SSL_CERT_DIR|NODE_EXTRA_CA_CERTS|(HTTPS?|NO|ALL)_PROXY|(https?|no|all)_proxy)$/

export function tunnelEnvironment(env: NodeJS.ProcessEnv = process.env): NodeJS.ProcessEnv {
  return Object.fromEntries(Object.entries(env).filter(([name]) => KEPT.test(name)))
}
