/**
 * The sshd_config of a loopback OpenSSH server for tests and benchmarks: key login only,
 * no PAM, the keys in a scratch folder (StrictModes off, as that folder is not $HOME).
 */
export function loopbackSshdConfig(port: number, hostKeyFile: string, authorizedKeysFile: string): string {
  return [
    `Port ${port}`,
    'ListenAddress 127.0.0.1',
    `HostKey ${hostKeyFile}`,
    'PidFile none',
    `AuthorizedKeysFile ${authorizedKeysFile}`,
    'PasswordAuthentication no',
    'KbdInteractiveAuthentication no',
    'PubkeyAuthentication yes',
    'UsePAM no',
    'StrictModes no',
    'PermitRootLogin prohibit-password',
    'LogLevel ERROR',
    '',
  ].join('\n')
}
