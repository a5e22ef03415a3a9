#!/usr/bin/env bash
# Builds the Flux controllers pinned in controllers.txt from the Go module proxy into
# ${AUTH_SHIM_CACHE:-$HOME/.cache/auth-shim}/flux/bin/<name>-<version>, with its own module and build
# caches there (outside the checkout). A controller's module zip holds everything but its nested
# api/ module, which its go.mod replaces with ./api: that replace is dropped so the api module comes
# from the proxy at the version the controller requires (the same tag); the substitutions listed in
# controllers.txt become replace directives. Idempotent; prints the bin directory. Cold: see docs/KUBERNETES.md for the measured cost.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
cache="${AUTH_SHIM_CACHE:-$HOME/.cache/auth-shim}/flux"
out="$cache/bin"
command -v go >/dev/null || { echo "flux-build: Go is needed to build the Flux controllers" >&2; exit 1; }
mkdir -p "$out"
export GOMODCACHE="$cache/gomod" GOCACHE="$cache/gocache" GOTOOLCHAIN=local CGO_ENABLED=0 GOFLAGS=-mod=mod
grep -v '^\s*\(#\|$\)' "$here/controllers.txt" | while read -r module version substitutions; do
  name="${module##*/}"
  bin="$out/$name-$version"
  [ -x "$bin" ] && continue
  start=$(date +%s)
  dir="$(cd "$cache" && go mod download -json "$module@$version" | sed -n 's/^\s*"Dir": "\(.*\)",\?$/\1/p')"
  src="$cache/src/$name@$version"
  rm -rf "$src" && mkdir -p "$(dirname "$src")" && cp -r "$dir" "$src" && chmod -R u+w "$src"
  sed -i "\|^replace $module/api => ./api|d" "$src/go.mod"
  for sub in $substitutions; do (cd "$src" && go mod edit -replace "${sub%@*}=$sub"); done
  echo "flux-build: building $name $version with $(go version | cut -d' ' -f3)" >&2
  (cd "$src" && go build -trimpath -ldflags "-s -w" -o "$bin.tmp" .)
  mv "$bin.tmp" "$bin"
  echo "flux-build: $name $version built in $(( $(date +%s) - start )) s" >&2
done
echo "$out"
