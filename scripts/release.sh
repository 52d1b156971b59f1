#!/usr/bin/env bash
# Builds the release artifact: dist/bytetide-linux-x64 (the single executable, native addon
# embedded) and dist/SHA256SUMS. Fails if the build fell back to the JS hasher, unless
# BYTETIDE_ALLOW_JS_HASHER=1.
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/bootstrap.sh
arch=$(uname -m)
case "$arch" in x86_64) arch=x64 ;; aarch64) arch=arm64 ;; esac
artifact="bytetide-linux-$arch"
version=$(dist/bytetide --version)
if [[ "$version" != *"hasher: native"* && "${BYTETIDE_ALLOW_JS_HASHER:-0}" != 1 ]]; then
  echo "release: the build has no native hasher ($version); install Rust or set BYTETIDE_ALLOW_JS_HASHER=1" >&2
  exit 1
fi
cp dist/bytetide "dist/$artifact"
(cd dist && sha256sum "$artifact" > SHA256SUMS)
echo "release: dist/$artifact ($version)"
cat dist/SHA256SUMS
