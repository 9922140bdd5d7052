#!/usr/bin/env bash
# Regenerates vendor/samod, vendor/samod-core and vendor/automerge from the
# published crates and applies Fieldvisit's patches (see README.md here). Run
# from anywhere.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
. "$here/published.sh"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
published "$tmp"
for pair in $crates; do
  crate=${pair%%=*}
  version=${pair#*=}
  rm -rf "${here:?}/$crate"
  cp -r "$tmp/v/$crate-$version" "$here/$crate"
  (cd "$here/$crate" && patch -p1 --quiet < "$here/patches/$crate.patch")
  # cargo vendor keeps the archive's old timestamps; cargo would then
  # think a previous build of the patched copy is still fresh.
  find "$here/$crate" -type f -exec touch {} +
done
echo "vendor: $crates regenerated with patches applied"
