/**
 * The cluster's credentials, made fresh for each new cluster: the CA, the API server's certificate
 * (valid for the node IP, the `kubernetes` Service IP and its DNS names), the service-account key
 * pair, a client certificate the API server presents to the kubelet, and a static token per
 * component (the same helpers test/controlplane uses). Each identity is the one Kubernetes' default
 * RBAC and the Node authorizer expect.
 */
import { randomBytes } from 'node:crypto';
import { appendFile, mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { issueTestCert, kubeconfigYaml, makeCredentials } from '../../controlplane/cluster.js';
import { CLUSTER_DOMAIN, NODE_IP, NODE_NAME, PKI_DIR, SERVER, SERVICE_CIDR } from './config.js';

export const CA_FILE = join(PKI_DIR, 'ca.crt');
export const ADMIN_KUBECONFIG = join(PKI_DIR, 'admin.kubeconfig');

/** user name and groups of each component's token (k8s default RBAC / Node authorizer names). */
const COMPONENTS = {
  kubelet: { user: `system:node:${NODE_NAME}`, groups: 'system:nodes' },
  'kube-controller-manager': { user: 'system:kube-controller-manager', groups: '' },
  'kube-scheduler': { user: 'system:kube-scheduler', groups: '' },
  'kube-proxy': { user: 'system:kube-proxy', groups: '' },
} as const;
export type Component = keyof typeof COMPONENTS;

export function kubeconfigOf(component: Component | 'admin'): string {
  return component === 'admin' ? ADMIN_KUBECONFIG : join(PKI_DIR, `${component}.kubeconfig`);
}

/** The first address of the Service range: what the `kubernetes` Service gets. */
function kubernetesServiceIp(): string {
  const [a, b, c, d] = (SERVICE_CIDR.split('/')[0] ?? '').split('.').map(Number);
  return `${a}.${b}.${c}.${(d ?? 0) + 1}`;
}

export async function makePki(): Promise<void> {
  await mkdir(PKI_DIR, { recursive: true, mode: 0o700 });
  const sans = [
    'IP:127.0.0.1',
    `IP:${NODE_IP}`,
    `IP:${kubernetesServiceIp()}`,
    'DNS:localhost',
    'DNS:kubernetes',
    'DNS:kubernetes.default',
    'DNS:kubernetes.default.svc',
    `DNS:kubernetes.default.svc.${CLUSTER_DOMAIN}`,
  ];
  const { token } = await makeCredentials(PKI_DIR, sans);
  await writeFile(ADMIN_KUBECONFIG, kubeconfigYaml(SERVER, CA_FILE, { token }));
  // system:masters: the kubelet authorizes the API server's exec/logs/port-forward calls by webhook.
  await issueTestCert(PKI_DIR, 'apiserver-kubelet-client', [], {
    subject: '/CN=kube-apiserver-kubelet-client/O=system:masters',
  });
  for (const [name, id] of Object.entries(COMPONENTS)) {
    const t = randomBytes(24).toString('hex');
    await appendFile(
      join(PKI_DIR, 'tokens.csv'),
      `${t},${id.user},${id.user}${id.groups === '' ? '' : `,"${id.groups}"`}\n`,
    );
    await writeFile(kubeconfigOf(name as Component), kubeconfigYaml(SERVER, CA_FILE, { token: t }, 'kube-system'));
  }
}
