# Sourced by refresh.sh and make-patches.sh: the published crates vendored
# here, and how both scripts fetch them as published, so the list and the
# parts left out are written once.

# crate=version: the published crates vendored here, each patched.
crates="samod=0.16.0 samod-core=0.16.0 automerge=0.12.0"

# published DIR: each crate as published, in DIR/v/<crate>-<version>, without
# the parts not vendored (test suites, the interop server, docs, lock files).
published() {
  local dir=$1 pair
  mkdir -p "$dir/p/src"
  cat > "$dir/p/Cargo.toml" <<TOML
[package]
name = "vendor-samod"
version = "0.0.0"
edition = "2021"
[dependencies]
TOML
  for pair in $crates; do
    echo "${pair%%=*} = \"=${pair#*=}\"" >> "$dir/p/Cargo.toml"
  done
  touch "$dir/p/src/lib.rs"
  (cd "$dir/p" && cargo vendor --versioned-dirs --quiet "$dir/v" >/dev/null)
  for pair in $crates; do
    local orig="$dir/v/${pair%%=*}-${pair#*=}"
    rm -rf "$orig/tests" "$orig/interop-test-server" "$orig/docs" \
      "$orig/TODO.md" "$orig/Cargo.lock" "$orig/.cargo-checksum.json"
  done
}
