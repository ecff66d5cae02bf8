#!/usr/bin/env bash
# Test fixture for the packaging tests: builds the test-only Helm renderer with the Debian Go
# packages (offline, GOPATH mode) and installs the npm validators with `npm ci`, both into the
# directory given as $1 (with --renderer-only as $2: only the renderer). Idempotent: go's build
# cache makes a rebuild cheap, and npm ci runs only when package-lock.json changed since the
# last install.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
out="${1:?usage: setup.sh <output dir>}"
mkdir -p "$out/npm" "$out/gocache"

# Offline build: Debian installs sprig and its dependencies under /usr/share/gocode.
(cd "$here/helm-render" &&
  GOPATH=/usr/share/gocode GO111MODULE=off GOFLAGS= GOPROXY=off GOCACHE="$out/gocache" \
    go build -o "$out/helm-render.tmp" . &&
  mv "$out/helm-render.tmp" "$out/helm-render")

if [ "${2:-}" = "--renderer-only" ]; then
  echo "setup: helm-render built"
  exit 0
fi

stamp="$out/npm/node_modules/.pygrid-lock.sha256"
want="$(sha256sum "$here/package-lock.json" | cut -d' ' -f1)"
if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ]; then
  echo "setup: helm-render built; npm packages already installed"
  exit 0
fi
cp "$here/package.json" "$here/package-lock.json" "$out/npm/"
(cd "$out/npm" && npm_config_cache="$out/npm-cache" \
  npm ci --no-audit --no-fund --prefer-offline --loglevel=error)
echo "$want" > "$stamp"
echo "setup: helm-render built; npm packages installed"
