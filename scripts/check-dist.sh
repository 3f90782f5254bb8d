#!/usr/bin/env bash
# Checks that the committed dist/ (and the schema validators the build compiles into
# src/) is the build of src/: rebuilds it in place and fails, listing what differs,
# when a file under dist/ changed, disappeared or appeared.
# .ci/run and the release workflow (before a tag is published) both call it.
# BUILD_COMMAND replaces `npm run build` (the tests run this script on a scratch repository).
set -euo pipefail
cd "$(git rev-parse --show-toplevel)"
bash -c "${BUILD_COMMAND:-npm run build}"
generated=(dist src/shared/providers/che/schemas/validators.js src/shared/contract/contract-schema.js)
if ! git diff --quiet --ignore-space-at-eol -- "${generated[@]}" || [ -n "$(git ls-files --others --exclude-standard -- "${generated[@]}")" ]; then
  echo "dist/ does not match src/ at $(git rev-parse --short HEAD): run 'npm run build' and commit dist/." >&2
  git status --short -- "${generated[@]}" >&2
  exit 1
fi
echo "dist/ is the build of src/ at $(git rev-parse --short HEAD)."
