#!/usr/bin/env bash
# Builds the Kubernetes binaries the tests run — kube-apiserver and kube-controller-manager (test/controlplane)
# plus kubelet, kube-scheduler and kube-proxy (the one-node cluster, test/cluster/infra) — from the Go module
# proxy, using the wrapper module in test/controlplane/apiserver (which pins k8s.io/kubernetes and its staging
# modules), in ONE `go build` so they share compiled packages. Everything it downloads or produces lives in a
# cache OUTSIDE the checkout, so a fresh clone on the same machine (CI's) finds it warm:
# $AUTH_SHIM_CONTROLPLANE_CACHE, default ${AUTH_SHIM_CACHE:-~/.cache/auth-shim}/controlplane (module cache,
# build cache, binaries). Binaries built for the pinned version are reused; otherwise they are built from
# scratch (~8 minutes on 2 cores, downloads included), so CI runs this before `npm test`, never inside a test.
#
# Usage: test/controlplane/build-apiserver.sh        prints the binaries' directory on stdout
#        KUBE_APISERVER_REBUILD=1 …                   forces a rebuild
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
cache="${AUTH_SHIM_CONTROLPLANE_CACHE:-${AUTH_SHIM_CACHE:-$HOME/.cache/auth-shim}/controlplane}"
mod="$here/apiserver"

# The Kubernetes version is whatever the wrapper's go.mod requires, so there is one place to change it.
version="$(awk '$1 == "k8s.io/kubernetes" && $2 ~ /^v1\./ { print $2; exit }' "$mod/go.mod")"
[ -n "$version" ] || { echo "build-apiserver: no k8s.io/kubernetes version in $mod/go.mod" >&2; exit 1; }
minor="$(echo "$version" | cut -d. -f2)"
out="$cache/bin"
bins=(kube-apiserver kube-controller-manager kube-scheduler kubelet kube-proxy)

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

echo "build-apiserver: building ${bins[*]} $version with $(go version | cut -d' ' -f3) (cold: ~8 min on 2 cores)" >&2
start=$(date +%s)
tmp="$out/.tmp-$$"
rm -rf "$tmp" && mkdir -p "$tmp"
# One `go build` for all: they share most packages, and -o <dir>/ names each after its command.
(cd "$mod" && go build -trimpath -ldflags "$ldflags" -o "$tmp/" "${bins[@]/#/k8s.io/kubernetes/cmd/}")
for b in "${bins[@]}"; do mv "$tmp/$b" "$out/$b-$version"; done
rm -rf "$tmp"
sizes=""
for b in "${bins[@]}"; do sizes+=" $b $(du -h "$out/$b-$version" | cut -f1)"; done
echo "build-apiserver: built $version in $(( $(date +%s) - start ))s:$sizes" >&2
echo "$out"
