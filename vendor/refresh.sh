#!/usr/bin/env bash
# Regenerates vendor/samod, vendor/samod-core and vendor/automerge from the
# published crates and applies Fieldvisit's patches (see README.md here). Run
# from anywhere.
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
  rm -rf "${here:?}/$crate"
  cp -r "$tmp/v/$crate-$version" "$here/$crate"
  rm -rf "$here/$crate/tests" "$here/$crate/interop-test-server" "$here/$crate/docs" \
    "$here/$crate/TODO.md" "$here/$crate/Cargo.lock" "$here/$crate/.cargo-checksum.json"
  (cd "$here/$crate" && patch -p1 --quiet < "$here/patches/$crate.patch")
  # cargo vendor keeps the archive's old timestamps; cargo would then
  # think a previous build of the patched copy is still fresh.
  find "$here/$crate" -type f -exec touch {} +
done
echo "vendor: $crates regenerated with patches applied"
