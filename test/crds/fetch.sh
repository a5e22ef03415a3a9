#!/usr/bin/env bash
# Fetches the published CRD manifests pinned in published.txt from the Go module proxy (a module zip
# holds the whole repository at that tag) and copies them to
# ${AUTH_SHIM_CACHE:-$HOME/.cache/auth-shim}/crds/<module>@<version>/ — outside the checkout: they are
# third-party content, fetched, never committed. Idempotent; prints the crds directory on stdout.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
dest="${AUTH_SHIM_CACHE:-$HOME/.cache/auth-shim}/crds"
command -v go >/dev/null || { echo "fetch-crds: Go is needed to download the CRD modules" >&2; exit 1; }
mkdir -p "$dest"
grep -v '^\s*\(#\|$\)' "$here/published.txt" | while read -r module version subdir; do
  out="$dest/$module@$version"
  [ -f "$out/.complete" ] && continue
  # Outside any module: GOFLAGS=-mod=mod keeps `go mod download` from looking for a go.mod.
  dir="$(cd "$dest" && GOFLAGS=-mod=mod GOTOOLCHAIN=local go mod download -json "$module@$version" | sed -n 's/^\s*"Dir": "\(.*\)",\?$/\1/p')"
  [ -d "$dir/$subdir" ] || { echo "fetch-crds: $module@$version has no $subdir" >&2; exit 1; }
  rm -rf "$out" && mkdir -p "$out"
  find "$dir/$subdir" -maxdepth 1 -name '*.yaml' ! -name 'kustomization.yaml' -exec cp {} "$out/" \;
  chmod -R u+w "$out"
  n="$(grep -l '^kind: CustomResourceDefinition' "$out"/*.yaml | wc -l)"
  [ "$n" -gt 0 ] || { echo "fetch-crds: no CustomResourceDefinition in $module@$version/$subdir" >&2; exit 1; }
  # Only CRDs: a non-CRD file in that directory (none today) would otherwise be installed too.
  for f in "$out"/*.yaml; do grep -q '^kind: CustomResourceDefinition' "$f" || rm "$f"; done
  touch "$out/.complete"
  echo "fetch-crds: $module@$version: $n CRDs" >&2
done
echo "$dest"
