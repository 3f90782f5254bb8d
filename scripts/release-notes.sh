#!/usr/bin/env bash
# Prints the CHANGELOG.md section of a release tag (vX.Y.Z -> "## [X.Y.Z] ..." up to the
# next "## "), and fails when the tag is not vX.Y.Z, when package.json has another
# version, or when CHANGELOG.md has no section for it. The release workflow calls it.
set -euo pipefail
cd "$(git rev-parse --show-toplevel)"
tag="${1:?usage: release-notes.sh vX.Y.Z}"
if ! [[ "$tag" =~ ^v([0-9]+\.[0-9]+\.[0-9]+)$ ]]; then
  echo "The tag '$tag' is not vX.Y.Z." >&2
  exit 1
fi
version="${BASH_REMATCH[1]}"
package_version="$(node -p 'require("./package.json").version')"
if [ "$package_version" != "$version" ]; then
  echo "The tag '$tag' does not match package.json's version $package_version." >&2
  exit 1
fi
notes="$(awk -v v="$version" '
  /^## / { if (found) exit; if (index($0, "## [" v "]") == 1) { found = 1; next } }
  found { print }
' CHANGELOG.md)"
if [ -z "${notes//[[:space:]]/}" ]; then
  echo "CHANGELOG.md has no section '## [$version]' with notes." >&2
  exit 1
fi
printf '%s\n' "$notes"
