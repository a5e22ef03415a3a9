#!/usr/bin/env bash
# Builds kube-apiserver and kube-controller-manager for the control-plane tests from the Go module proxy, using the wrapper module in
# test/controlplane/apiserver (which pins k8s.io/kubernetes and its staging modules). Everything it
# downloads or produces lives under .controlplane/ at the repo root (git-ignored): the module cache, the
# build cache and the binaries. Binaries built for the pinned version are reused; otherwise they are built
# from scratch (~6 minutes on 2 cores, downloads included), so CI runs this before `npm test` rather than
# inside a test.
#
# Usage: test/controlplane/build-apiserver.sh        prints the binaries' directory on stdout
#        KUBE_APISERVER_REBUILD=1 …                   forces a rebuild
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/../.." && pwd)"
cache="${AUTH_SHIM_CONTROLPLANE_CACHE:-$root/.controlplane}"
mod="$here/apiserver"

# The Kubernetes version is whatever the wrapper's go.mod requires, so there is one place to change it.
version="$(awk '$1 == "k8s.io/kubernetes" && $2 ~ /^v1\./ { print $2; exit }' "$mod/go.mod")"
[ -n "$version" ] || { echo "build-apiserver: no k8s.io/kubernetes version in $mod/go.mod" >&2; exit 1; }
minor="$(echo "$version" | cut -d. -f2)"
out="$cache/bin"
bins=(kube-apiserver kube-controller-manager)

built=1
for b in "${bins[@]}"; do [ -x "$out/$b-$version" ] || built=0; done
if [ "$built" = 1 ] && [ -z "${KUBE_APISERVER_REBUILD:-}" ]; then
  echo "$out"
  exit 0
fi

command -v go >/dev/null || {
  echo "build-apiserver: Go is not installed; the control-plane tests need it to build kube-apiserver $version" >&2
  exit 1
}

mkdir -p "$out"
export GOMODCACHE="$cache/gomod" GOCACHE="$cache/gocache" GOTOOLCHAIN=local GOFLAGS=-mod=readonly CGO_ENABLED=0
# kube-apiserver reports this version on /version, which helm checks against a chart's kubeVersion.
ldflags="-s -w"
for pkg in k8s.io/component-base/version k8s.io/client-go/pkg/version; do
  ldflags+=" -X $pkg.gitVersion=$version -X $pkg.gitMajor=1 -X $pkg.gitMinor=$minor -X $pkg.gitTreeState=clean"
done

echo "build-apiserver: building ${bins[*]} $version with $(go version | cut -d' ' -f3) (cold: ~6 min on 2 cores)" >&2
start=$(date +%s)
tmp="$out/.tmp-$$"
rm -rf "$tmp" && mkdir -p "$tmp"
# One `go build` for both: they share most packages, and -o <dir>/ names each after its command.
(cd "$mod" && go build -trimpath -ldflags "$ldflags" -o "$tmp/" "${bins[@]/#/k8s.io/kubernetes/cmd/}")
for b in "${bins[@]}"; do mv "$tmp/$b" "$out/$b-$version"; done
rm -rf "$tmp"
sizes=""
for b in "${bins[@]}"; do sizes+=" $b $(du -h "$out/$b-$version" | cut -f1)"; done
echo "build-apiserver: built $version in $(( $(date +%s) - start ))s:$sizes" >&2
echo "$out"
