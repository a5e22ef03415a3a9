#!/usr/bin/env bash
# Everything the control-plane tests (test/controlplane/*.test.ts) need on a machine: etcd from
# Debian's `etcd-server` package, and kube-apiserver + kube-controller-manager built from the Go module
# proxy, with the test cluster's kubelet, kube-scheduler and kube-proxy (cached outside the checkout, see
# build-apiserver.sh). Idempotent: a second run installs and builds nothing.
# .ci/run calls it before `npm test`; developers run it once (`bash test/controlplane/prepare.sh`).
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"

if ! command -v etcd >/dev/null; then
  if [ "$(id -u)" = 0 ]; then
    echo "== installing etcd-server (Debian)" >&2
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends etcd-server >/dev/null
  else
    echo "prepare: etcd is not installed: sudo apt-get install etcd-server (or set ETCD=/path/to/etcd)" >&2
    exit 1
  fi
fi
# The package enables an etcd service on systemd machines; the tests start their own on free ports.
echo "== etcd: $(etcd --version | head -1)" >&2
bash "$here/build-apiserver.sh" >/dev/null
