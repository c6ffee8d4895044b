#!/bin/sh
# Install ONNX Runtime (npm package onnxruntime-node) into tools/ort/node_modules.
#
# sparsify's tests compare its engine against ONNX Runtime, and bench/ times
# both; the CPU runtime ships inside the npm package. Called by `make deps`, so
# it must be idempotent and quick when everything is already there. Versions are
# pinned by tools/ort/package-lock.json; tools/ort/.npmrc skips the package's
# attempt to download GPU libraries from a host this machine cannot reach.
# Exit status: 0 when the runtime loads, non-zero otherwise.
set -eu

here=$(cd "$(dirname "$0")/ort" && pwd)
cd "$here"

check() {
  node -e "require('onnxruntime-node'); require('fflate')" 2>/dev/null
}

if [ -d node_modules/onnxruntime-node ] && [ -d node_modules/fflate ] && check; then
  echo "ONNX Runtime (npm): present in tools/ort/node_modules"
  exit 0
fi

for tool in node npm; do
  if ! command -v "$tool" >/dev/null 2>&1; then
    echo "setup_ort.sh: '$tool' not found; install the Debian packages nodejs and npm" >&2
    exit 1
  fi
done

echo "ONNX Runtime (npm): installing into tools/ort/node_modules"
# npm ci installs exactly what package-lock.json pins and fails if it disagrees
# with package.json, rather than silently resolving newer versions.
npm ci --no-audit --no-fund --loglevel=error
if ! check; then
  echo "setup_ort.sh: onnxruntime-node installed but does not load (node $(node --version))" >&2
  exit 1
fi
echo "ONNX Runtime (npm): ready"
