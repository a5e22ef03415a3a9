#!/usr/bin/env bash
# The cluster's Go programs other than Kubernetes itself, into the same cache as the Kubernetes build
# (test/controlplane/build-apiserver.sh; its module and build caches are shared):
#   bin/coredns-$COREDNS_VERSION   the pinned CoreDNS release, `go install` from the Go module proxy
#   bin/pause-<hash>               test/cluster/infra/pause, the pod sandbox process
# Reused when present. Prints both paths, one per line.
set -euo pipefail
: "${COREDNS_VERSION:?}" "${AUTH_SHIM_CONTROLPLANE_CACHE:?}"
here="$(cd "$(dirname "$0")" && pwd)"
cache="$AUTH_SHIM_CONTROLPLANE_CACHE"
out="$cache/bin"
mkdir -p "$out"
export GOMODCACHE="$cache/gomod" GOCACHE="$cache/gocache" GOTOOLCHAIN=local CGO_ENABLED=0 GOFLAGS=

coredns="$out/coredns-$COREDNS_VERSION"
if [ ! -x "$coredns" ]; then
  command -v go >/dev/null || { echo "build-go: Go is not installed (needed once to build CoreDNS $COREDNS_VERSION)" >&2; exit 1; }
  echo "build-go: building CoreDNS $COREDNS_VERSION (cold: ~3 min on 2 cores)" >&2
  tmp="$(mktemp -d "$out/.coredns.XXXXXX")"
  GOBIN="$tmp" go install -trimpath -ldflags '-s -w' "github.com/coredns/coredns@$COREDNS_VERSION"
  mv "$tmp/coredns" "$coredns"
  rmdir "$tmp"
fi

pause="$out/pause-$(cat "$here/pause/go.mod" "$here/pause/main.go" | sha256sum | cut -c1-12)"
if [ ! -x "$pause" ]; then
  (cd "$here/pause" && go build -trimpath -ldflags '-s -w' -o "$pause.tmp" .)
  mv "$pause.tmp" "$pause"
fi
echo "$coredns"
echo "$pause"
