#!/usr/bin/env bash
# Rewrites go.mod/go.sum of this wrapper module for another Kubernetes release:
#   bash test/controlplane/apiserver/gen-go-mod.sh v1.34.2
# k8s.io/kubernetes replaces its staging modules (k8s.io/api, k8s.io/client-go, …) with ./staging paths
# that a dependent module cannot see, so each is pinned here to the matching v0.X.Y release; the list is
# read from k8s.io/kubernetes's own go.mod. The module cache is the tests' (outside the checkout, see build-apiserver.sh).
set -euo pipefail
version="${1:?usage: gen-go-mod.sh v1.X.Y}"
here="$(cd "$(dirname "$0")" && pwd)"
cache="${AUTH_SHIM_CONTROLPLANE_CACHE:-${AUTH_SHIM_CACHE:-$HOME/.cache/auth-shim}/controlplane}"
export GOMODCACHE="$cache/gomod" GOCACHE="$cache/gocache" GOTOOLCHAIN=local GOFLAGS=-mod=mod
staging="v0.${version#v1.}"
upstream_mod="$(cd "$here" && go mod download -json "k8s.io/kubernetes@$version" | sed -n 's/.*"GoMod": "\(.*\)".*/\1/p')"
{
  sed -n '1,/^module /p' "$here/go.mod"
  cat <<MOD

go 1.24.0

godebug default=go1.24

require k8s.io/kubernetes $version

tool (
	k8s.io/kubernetes/cmd/kube-apiserver
	k8s.io/kubernetes/cmd/kube-controller-manager
	k8s.io/kubernetes/cmd/kube-proxy
	k8s.io/kubernetes/cmd/kube-scheduler
	k8s.io/kubernetes/cmd/kubelet
)

replace (
MOD
  awk -v s="$staging" '$2 == "=>" && $3 ~ /^\.\/staging\// { print "\t" $1 " => " $1 " " s }' "$upstream_mod"
  echo ")"
} > "$here/go.mod.new"
mv "$here/go.mod.new" "$here/go.mod"
(cd "$here" && go mod tidy)
echo "go.mod now pins k8s.io/kubernetes $version (staging $staging); run build-apiserver.sh to build it" >&2
