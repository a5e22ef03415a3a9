#!/usr/bin/env bash
# Builds Prometheus from the Go module proxy, with Kubernetes service discovery, into
# ${AUTH_SHIM_CACHE:-$HOME/.cache/auth-shim}/prometheus/bin/prometheus-<version>. Debian's package
# (test/telemetry's Prometheus) is built without client-go, so it has no `kubernetes_sd_configs`;
# test/cluster/prometheus-sd.test.ts needs it. Only the Kubernetes SD plugin is compiled in
# (Prometheus' own `remove_all_sd` + `enable_kubernetes_sd` build tags). The module and build
# caches are the Flux controllers' (test/flux/build.sh): the two share client-go and most of the
# Prometheus client libraries. Idempotent; prints the binary's path.
set -euo pipefail
version="v0.316.0" # Prometheus 3.16.0 (Prometheus tags its Go module v0.<major><minor>.<patch>)
root="${AUTH_SHIM_CACHE:-$HOME/.cache/auth-shim}"
bin="$root/prometheus/bin/prometheus-$version"
[ -x "$bin" ] && { echo "$bin"; exit 0; }
command -v go >/dev/null || { echo "prometheus-build: Go is needed to build Prometheus" >&2; exit 1; }
mkdir -p "$(dirname "$bin")"
# Its source carries a go.work (for its own tools); the build is of the one module.
export GOMODCACHE="$root/flux/gomod" GOCACHE="$root/flux/gocache" GOTOOLCHAIN=local CGO_ENABLED=0 GOFLAGS=-mod=mod GOWORK=off
start=$(date +%s)
dir="$(cd "$root/prometheus" && go mod download -json "github.com/prometheus/prometheus@$version" | sed -n 's/^\s*"Dir": "\(.*\)",\?$/\1/p')"
src="$root/prometheus/src/prometheus@$version"
rm -rf "$src" && mkdir -p "$(dirname "$src")" && cp -r "$dir" "$src" && chmod -R u+w "$src"
echo "prometheus-build: building Prometheus $version with $(go version | cut -d' ' -f3)" >&2
(cd "$src" && go build -trimpath -tags remove_all_sd,enable_kubernetes_sd -ldflags "-s -w" -o "$bin.tmp" ./cmd/prometheus)
mv "$bin.tmp" "$bin"
rm -rf "$src"
echo "prometheus-build: built in $(( $(date +%s) - start )) s" >&2
echo "$bin"
