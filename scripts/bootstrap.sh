#!/usr/bin/env bash
# Sets up everything bytetide needs on a fresh machine, and does nothing that is already done:
#   1. JS dependencies (Bun itself among them) from package-lock.json;
#   2. the native SHA-256 addon, native/build/bytetide.node (skipped without Rust);
#   3. the single executable, dist/bytetide.
set -euo pipefail
cd "$(dirname "$0")/.."

say() { printf 'bootstrap: %s\n' "$*" >&2; }

# Rebuild $1 only when it is missing or older than any of the remaining paths.
stale() {
  local target=$1; shift
  [ -e "$target" ] || return 0
  [ -n "$(find "$@" -newer "$target" -type f -print -quit 2>/dev/null)" ]
}

install_js() {
  command -v npm >/dev/null || { say "npm is required (Node.js and npm ship on these machines)"; exit 1; }
  if stale node_modules/.package-lock.json package-lock.json package.json || [ ! -x node_modules/.bin/bun ]; then
    say "installing JS dependencies (npm ci)"
    npm ci --no-audit --no-fund --loglevel=error
  fi
}

# cargo --config flags that take sha2 and its dependencies from Debian's packaged crates.
debian_sources=(--offline --config 'source.crates-io.replace-with="debian-packages"'
  --config 'source.debian-packages.directory="/usr/share/cargo/registry"')

ensure_debian_sha2() {
  ls -d /usr/share/cargo/registry/sha2-0.10.* >/dev/null 2>&1 && return 0
  command -v apt-get >/dev/null || return 1
  say "crates.io unreachable: installing Debian's packaged sha2 crate (librust-sha2-dev)"
  local sudo=""; [ "$(id -u)" = 0 ] || sudo="sudo -n"
  $sudo apt-get install -y -qq librust-sha2-dev >/dev/null 2>&1 \
    || { $sudo apt-get update -qq >/dev/null 2>&1 && $sudo apt-get install -y -qq librust-sha2-dev >/dev/null 2>&1; }
}

build_native() {
  local out=native/build/bytetide.node
  if ! command -v cargo >/dev/null; then
    [ -e "$out" ] || say "no Rust toolchain: hashing falls back to Bun.CryptoHasher"
    return 0
  fi
  stale "$out" native/src native/Cargo.toml || return 0
  say "building the native addon"
  # A lockfile from the other source (crates.io vs Debian) carries checksums that do not apply.
  rm -f native/Cargo.lock
  local cargo=(cargo build --release --manifest-path native/Cargo.toml --quiet)
  if timeout 60 cargo fetch --manifest-path native/Cargo.toml --quiet --config net.retry=0 >/dev/null 2>&1; then
    "${cargo[@]}"
  elif ensure_debian_sha2; then
    rm -f native/Cargo.lock
    "${cargo[@]}" "${debian_sources[@]}"
  else
    say "sha2 is neither on crates.io nor in Debian's packages here: hashing falls back to Bun.CryptoHasher"
    return 0
  fi
  mkdir -p native/build
  cp native/target/release/libbytetide_native.so "$out.tmp" && mv "$out.tmp" "$out"
}

build_executable() {
  stale dist/bytetide src package.json native/build || return 0
  say "compiling dist/bytetide"
  mkdir -p dist
  # --splitting keeps the commands, and the modules they load, in a chunk of their own that
  # `bytetide --version` never evaluates; --bytecode skips parsing at start (54 -> ~24 ms).
  node_modules/.bin/bun build --compile --splitting --bytecode --format esm src/cli/main.ts --outfile dist/bytetide >/dev/null
}

install_js
build_native
build_executable
