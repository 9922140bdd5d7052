#!/usr/bin/env bash
# The reverse of refresh.sh: writes patches/*.patch from the edited copies in
# vendor/samod, vendor/samod-core and vendor/automerge against the published
# crates. Edit the vendored sources, run this, then refresh.sh to check the
# patches apply.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
# crate=version: the published crates vendored here, each patched.
crates="samod=0.16.0 samod-core=0.16.0 automerge=0.12.0"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
mkdir -p "$tmp/p/src"
cat > "$tmp/p/Cargo.toml" <<TOML
[package]
name = "vendor-samod"
version = "0.0.0"
edition = "2021"
[dependencies]
TOML
for pair in $crates; do
  echo "${pair%%=*} = \"=${pair#*=}\"" >> "$tmp/p/Cargo.toml"
done
touch "$tmp/p/src/lib.rs"
(cd "$tmp/p" && cargo vendor --versioned-dirs --quiet "$tmp/v" >/dev/null)
for pair in $crates; do
  crate=${pair%%=*}
  version=${pair#*=}
  orig="$tmp/v/$crate-$version"
  rm -rf "$orig/tests" "$orig/interop-test-server" "$orig/docs" \
    "$orig/TODO.md" "$orig/Cargo.lock" "$orig/.cargo-checksum.json"
  mkdir -p "$tmp/d"
  rm -rf "$tmp/d/a" "$tmp/d/b"
  cp -r "$orig" "$tmp/d/a"
  cp -r "$here/$crate" "$tmp/d/b"
  (cd "$tmp/d" && diff -ruN a b > "$here/patches/$crate.patch") || true
done
echo "vendor/patches regenerated from the vendored copies"
