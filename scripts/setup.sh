#!/usr/bin/env bash
# Sets up a fresh machine: OpenSSH's sshd (the SSH tests run a real one on loopback),
# git with git-http-backend and curl (the simulated workspaces use the host's), and
# the npm dependencies, Node 24 included.
set -euo pipefail
cd "$(dirname "$0")/.."
missing=()
[ -x /usr/sbin/sshd ] && command -v ssh-keygen >/dev/null || missing+=(openssh-server openssh-client)
command -v git >/dev/null && git http-backend </dev/null >/dev/null 2>&1 || missing+=(git)
command -v curl >/dev/null || missing+=(curl ca-certificates)
# The simulated cluster and coderd serve https with a CA made per run by openssl 3 (test/sim/kube/pki.ts).
openssl version 2>/dev/null | grep -q "^OpenSSL 3" || missing+=(openssl)
if [ "${#missing[@]}" -gt 0 ]; then
  sudo=""
  [ "$(id -u)" -eq 0 ] || sudo="sudo"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
npm ci --no-audit --no-fund
