#!/usr/bin/env bash
# Sets up a fresh machine: OpenSSH's sshd (the SSH tests run a real one on loopback)
# and the npm dependencies, Node 24 included.
set -euo pipefail
cd "$(dirname "$0")/.."
if [ ! -x /usr/sbin/sshd ] || ! command -v ssh-keygen >/dev/null; then
  sudo=""
  [ "$(id -u)" -eq 0 ] || sudo="sudo"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends openssh-server openssh-client >/dev/null
fi
npm ci --no-audit --no-fund
