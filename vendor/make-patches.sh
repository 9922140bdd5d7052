#!/usr/bin/env bash
# The reverse of refresh.sh: writes patches/*.patch from the edited copies in
# vendor/samod, vendor/samod-core and vendor/automerge against the published
# crates. Edit the vendored sources, run this, then refresh.sh to check the
# patches apply.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
. "$here/published.sh"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
published "$tmp"
for pair in $crates; do
  crate=${pair%%=*}
  version=${pair#*=}
  orig="$tmp/v/$crate-$version"
  mkdir -p "$tmp/d"
  rm -rf "$tmp/d/a" "$tmp/d/b"
  cp -r "$orig" "$tmp/d/a"
  cp -r "$here/$crate" "$tmp/d/b"
  (cd "$tmp/d" && diff -ruN a b > "$here/patches/$crate.patch") || true
done
echo "vendor/patches regenerated from the vendored copies"
