/**
 * How each process of the cluster is started: its flags and config files. Every listener is on
 * loopback or on the node IP (the bridge address, inside the machine); fixed ports, since there is
 * one cluster per machine. The order of START_ORDER is the start-up order; `down` stops in reverse.
 */
import { writeFile, mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { apiserverBinary, controllerManagerBinary, etcdBinary } from '../../controlplane/cluster.js';
import {
  APISERVER_PORT,
  CLUSTER_DOMAIN,
  CONTAINERD_SOCK,
  DNS_IP,
  ETCD_PEER_PORT,
  ETCD_PORT,
  IMAGES,
  K8S_VERSION,
  KUBELET_SYNC_FREQUENCY,
  NODE_IP,
  NODE_NAME,
  PKI_DIR,
  POD_CIDR,
  RUN_DIR,
  SERVICE_CIDR,
  STATE_DIR,
} from './config.js';
import { CNI_CONF_DIR } from './network.js';
import { CA_FILE, kubeconfigOf } from './pki.js';

export const START_ORDER = [
  'etcd',
  'kube-apiserver',
  'kube-controller-manager',
  'kube-scheduler',
  'containerd',
  'kubelet',
  'kube-proxy',
] as const;
export type ProcName = (typeof START_ORDER)[number];

/** kubelet, kube-scheduler and kube-proxy sit next to kube-apiserver in the build cache. */
export function k8sBinary(name: 'kubelet' | 'kube-scheduler' | 'kube-proxy'): string {
  return apiserverBinary().replace(/kube-apiserver(-v[^/]*)?$/, `${name}-${K8S_VERSION}`);
}

const pki = (f: string) => join(PKI_DIR, f);

export interface Launch {
  readonly bin: string;
  readonly args: readonly string[];
}

export async function launch(name: ProcName): Promise<Launch> {
  switch (name) {
    case 'etcd':
      return {
        bin: etcdBinary(),
        args: [
          '--name=auth-shim-cluster',
          `--data-dir=${join(STATE_DIR, 'etcd')}`,
          `--listen-client-urls=http://127.0.0.1:${ETCD_PORT}`,
          `--advertise-client-urls=http://127.0.0.1:${ETCD_PORT}`,
          `--listen-peer-urls=http://127.0.0.1:${ETCD_PEER_PORT}`,
          `--initial-advertise-peer-urls=http://127.0.0.1:${ETCD_PEER_PORT}`,
          `--initial-cluster=auth-shim-cluster=http://127.0.0.1:${ETCD_PEER_PORT}`,
          '--listen-metrics-urls=',
          '--logger=zap',
          '--log-level=warn',
          // A throwaway cluster on a shared disk: no fsync per write.
          '--unsafe-no-fsync',
        ],
      };
    case 'kube-apiserver':
      return {
        bin: apiserverBinary(),
        args: [
          `--etcd-servers=http://127.0.0.1:${ETCD_PORT}`,
          `--bind-address=${NODE_IP}`,
          `--advertise-address=${NODE_IP}`,
          `--secure-port=${APISERVER_PORT}`,
          `--tls-cert-file=${pki('apiserver.crt')}`,
          `--tls-private-key-file=${pki('apiserver.key')}`,
          `--client-ca-file=${CA_FILE}`,
          `--token-auth-file=${pki('tokens.csv')}`,
          `--kubelet-client-certificate=${pki('apiserver-kubelet-client.crt')}`,
          `--kubelet-client-key=${pki('apiserver-kubelet-client.key')}`,
          '--kubelet-preferred-address-types=InternalIP,Hostname',
          `--service-account-issuer=https://kubernetes.default.svc.${CLUSTER_DOMAIN}`,
          `--service-account-key-file=${pki('sa.pub')}`,
          `--service-account-signing-key-file=${pki('sa.key')}`,
          `--service-cluster-ip-range=${SERVICE_CIDR}`,
          '--authorization-mode=Node,RBAC',
          '--allow-privileged=true',
          '--profiling=false',
          '--v=1',
        ],
      };
    case 'kube-controller-manager':
      return {
        bin: controllerManagerBinary(),
        args: [
          `--kubeconfig=${kubeconfigOf('kube-controller-manager')}`,
          `--authentication-kubeconfig=${kubeconfigOf('kube-controller-manager')}`,
          `--authorization-kubeconfig=${kubeconfigOf('kube-controller-manager')}`,
          '--bind-address=127.0.0.1',
          '--secure-port=10357',
          '--leader-elect=false',
          '--use-service-account-credentials=true',
          `--root-ca-file=${CA_FILE}`,
          `--service-account-private-key-file=${pki('sa.key')}`,
          `--cluster-signing-cert-file=${CA_FILE}`,
          `--cluster-signing-key-file=${pki('ca.key')}`,
          `--service-cluster-ip-range=${SERVICE_CIDR}`,
          '--allocate-node-cidrs=false',
          '--concurrent-deployment-syncs=2',
          '--v=1',
        ],
      };
    case 'kube-scheduler':
      return {
        bin: k8sBinary('kube-scheduler'),
        args: [
          `--kubeconfig=${kubeconfigOf('kube-scheduler')}`,
          `--authentication-kubeconfig=${kubeconfigOf('kube-scheduler')}`,
          `--authorization-kubeconfig=${kubeconfigOf('kube-scheduler')}`,
          '--bind-address=127.0.0.1',
          '--secure-port=10359',
          '--leader-elect=false',
          '--v=1',
        ],
      };
    case 'containerd':
      return { bin: '/usr/bin/containerd', args: ['--config', await containerdConfig()] };
    case 'kubelet':
      return {
        bin: k8sBinary('kubelet'),
        args: [
          `--config=${await kubeletConfig()}`,
          `--kubeconfig=${kubeconfigOf('kubelet')}`,
          `--hostname-override=${NODE_NAME}`,
          `--node-ip=${NODE_IP}`,
          `--root-dir=${join(STATE_DIR, 'kubelet')}`,
          `--cert-dir=${join(STATE_DIR, 'kubelet-pki')}`,
          '--v=1',
        ],
      };
    case 'kube-proxy':
      return { bin: k8sBinary('kube-proxy'), args: [`--config=${await kubeProxyConfig()}`, '--v=1'] };
  }
}

/** Its own config, root and socket: the machine's containerd (if any) is never touched. */
async function containerdConfig(): Promise<string> {
  const file = join(STATE_DIR, 'containerd.toml');
  const cri = 'plugins."io.containerd.grpc.v1.cri"';
  await writeFile(
    file,
    `version = 2
root = "${join(STATE_DIR, 'containerd')}"
state = "${join(RUN_DIR, 'containerd')}"
disabled_plugins = ["io.containerd.snapshotter.v1.btrfs", "io.containerd.snapshotter.v1.zfs", \
"io.containerd.snapshotter.v1.aufs", "io.containerd.snapshotter.v1.devmapper"]
[grpc]
  address = "${CONTAINERD_SOCK}"
[ttrpc]
  address = "${CONTAINERD_SOCK}.ttrpc"
[metrics]
  address = ""
[plugins."io.containerd.internal.v1.opt"]
  path = "${join(STATE_DIR, 'containerd-opt')}"
[${cri}]
  sandbox_image = "${IMAGES.pause}"
  # No CAP_SYS_RESOURCE here: without this every sandbox fails with "can't get final child's PID from pipe" \
(runc may not lower oom_score_adj).
  restrict_oom_score_adj = true
  stream_server_address = "127.0.0.1"
  stream_server_port = "0"
  [${cri}.containerd]
    snapshotter = "overlayfs"
    default_runtime_name = "runc"
    discard_unpacked_layers = false
    [${cri}.containerd.runtimes.runc]
      runtime_type = "io.containerd.runc.v2"
      [${cri}.containerd.runtimes.runc.options]
        # cgroup v1 and no systemd on these machines: runc with cgroupfs (crun refuses v1 controllers).
        SystemdCgroup = false
  [${cri}.cni]
    bin_dir = "/usr/lib/cni"
    conf_dir = "${CNI_CONF_DIR}"
    max_conf_num = 1
`,
  );
  return file;
}

async function kubeletConfig(): Promise<string> {
  const file = join(STATE_DIR, 'kubelet.json');
  const resolv = join(STATE_DIR, 'resolv.conf');
  // Pods with dnsPolicy Default get no nameserver of the machine: nothing resolves outside the cluster.
  await writeFile(resolv, '');
  await mkdir(join(STATE_DIR, 'kubelet'), { recursive: true });
  await writeFile(
    file,
    JSON.stringify(
      {
        kind: 'KubeletConfiguration',
        apiVersion: 'kubelet.config.k8s.io/v1beta1',
        address: NODE_IP,
        port: 10250,
        readOnlyPort: 0,
        healthzBindAddress: '127.0.0.1',
        healthzPort: 10248,
        authentication: { anonymous: { enabled: false }, webhook: { enabled: true }, x509: { clientCAFile: CA_FILE } },
        authorization: { mode: 'Webhook' },
        containerRuntimeEndpoint: `unix://${CONTAINERD_SOCK}`,
        // cgroup v1 machines: cgroupfs, and the kubelet must be told v1 is acceptable (failCgroupV1: false, KEP-4569).
        cgroupDriver: 'cgroupfs',
        failCgroupV1: false,
        failSwapOn: false,
        clusterDNS: [DNS_IP],
        clusterDomain: CLUSTER_DOMAIN,
        resolvConf: resolv,
        podCIDR: POD_CIDR,
        // See KUBELET_SYNC_FREQUENCY: Secret rotations reach pods in seconds.
        syncFrequency: KUBELET_SYNC_FREQUENCY,
        configMapAndSecretChangeDetectionStrategy: 'Watch',
        // Imported images cannot be pulled again: never garbage-collect them, never evict for disk.
        imageGCHighThresholdPercent: 100,
        imageGCLowThresholdPercent: 99,
        evictionHard: {
          'memory.available': '100Mi',
          'nodefs.available': '1%',
          'imagefs.available': '1%',
          'nodefs.inodesFree': '1%',
        },
        serializeImagePulls: false,
      },
      null,
      2,
    ),
  );
  return file;
}

async function kubeProxyConfig(): Promise<string> {
  const file = join(STATE_DIR, 'kube-proxy.json');
  await writeFile(
    file,
    JSON.stringify(
      {
        kind: 'KubeProxyConfiguration',
        apiVersion: 'kubeproxy.config.k8s.io/v1alpha1',
        clientConnection: { kubeconfig: kubeconfigOf('kube-proxy') },
        mode: 'iptables',
        clusterCIDR: POD_CIDR,
        hostnameOverride: NODE_NAME,
        healthzBindAddress: '127.0.0.1:10356',
        metricsBindAddress: '127.0.0.1:10349',
        // NodePorts only on the bridge address, never on the machine's own interfaces.
        nodePortAddresses: [`${NODE_IP}/32`],
        // Leave the machine's conntrack table settings alone.
        conntrack: { maxPerCore: 0, min: 0 },
        iptables: { syncPeriod: '30s', minSyncPeriod: '1s' },
      },
      null,
      2,
    ),
  );
  return file;
}
