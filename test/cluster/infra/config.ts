/**
 * Where the one-node test cluster keeps things and which addresses it uses: one place, read by every
 * step of `npm run cluster -- up|down|status|env` and passed to its shell scripts as environment.
 *
 * - Caches (Go builds, downloads) live OUTSIDE the checkout, so CI's fresh clone on the same machine
 *   is warm: `$AUTH_SHIM_CACHE` (default ~/.cache/auth-shim); the Kubernetes build honours
 *   `$AUTH_SHIM_CONTROLPLANE_CACHE` as test/controlplane does. Images live in podman's store.
 * - Runtime state is machine-level (one cluster per machine, whichever checkout started it):
 *   STATE_DIR for data, certificates, logs and pid files; RUN_DIR for sockets.
 * - Addresses: the pod network is a bridge inside this machine; nothing collides with podman's
 *   10.88.0.0/16. The node IP is the bridge's address (the kubelet refuses a loopback one).
 */
import { homedir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { cacheDir, kubernetesVersion } from '../../controlplane/cluster.js';

export const INFRA_DIR = fileURLToPath(new URL('.', import.meta.url));
export const REPO_ROOT = resolve(INFRA_DIR, '../../..');

export const CACHE_DIR = process.env['AUTH_SHIM_CACHE'] ?? join(homedir(), '.cache', 'auth-shim');
export const GO_CACHE_DIR = cacheDir();
export const DOWNLOADS_DIR = join(CACHE_DIR, 'downloads');

export const STATE_DIR = process.env['AUTH_SHIM_CLUSTER_STATE'] ?? '/var/lib/auth-shim-cluster';
export const RUN_DIR = '/run/auth-shim-cluster';
export const PKI_DIR = join(STATE_DIR, 'pki');
export const LOG_DIR = join(STATE_DIR, 'logs');
export const PID_DIR = join(RUN_DIR, 'pids');
/** What `up` recorded about the running cluster (versions, checkout that started it). */
export const STATE_FILE = join(STATE_DIR, 'cluster.json');

/** Per checkout: what tests and developers use. */
export const CLUSTER_DIR = join(REPO_ROOT, '.cluster');
export const KUBECONFIG = join(CLUSTER_DIR, 'kubeconfig');
export const BIN_DIR = join(CLUSTER_DIR, 'bin');

export const K8S_VERSION = kubernetesVersion();
export const COREDNS_VERSION = 'v1.15.0';
/** npm inside the build base image (the npm `node` package ships Node without npm). */
export const NPM_VERSION = '11.21.2';

export const NODE_NAME = 'auth-shim-node';
export const BRIDGE = 'authshim0';
export const POD_CIDR = '10.244.0.0/24';
export const NODE_IP = '10.244.0.1';
export const SERVICE_CIDR = '10.96.0.0/24';
export const DNS_IP = '10.96.0.10';
export const CLUSTER_DOMAIN = 'cluster.local';

export const ETCD_PORT = 12379;
export const ETCD_PEER_PORT = 12380;
export const APISERVER_PORT = 6443;
export const SERVER = `https://${NODE_IP}:${APISERVER_PORT}`;
export const CONTAINERD_SOCK = join(RUN_DIR, 'containerd.sock');

/**
 * How quickly a changed Secret reaches a mounted volume: the kubelet watches Secrets (the default
 * `Watch` strategy, so no cache TTL applies) and rewrites volumes on each pod sync; a 5 s sync
 * period (default 1 min) makes a rotation visible in a pod within ~5–10 s.
 */
export const KUBELET_SYNC_FREQUENCY = '5s';

export const IMAGES = {
  shim: 'localhost/auth-shim:e2e',
  agent: 'localhost/agent:e2e',
  pause: 'localhost/pause:auth-shim',
  coredns: `localhost/coredns:${COREDNS_VERSION}`,
} as const;
