/**
 * What the cluster needs before a test can use it: CoreDNS serving cluster.local behind the
 * `kube-dns` Service, the node Ready, the `default` ServiceAccount (it appears seconds after the
 * node is Ready, and a pod created before it is refused), and DNS answering through the Service IP.
 */
import { Resolver } from 'node:dns/promises';
import { run } from '../../controlplane/cluster.js';
import { layerBinary } from '../../helpers/helm.js';
import { CLUSTER_DOMAIN, DNS_IP, IMAGES, NODE_NAME } from './config.js';
import { ADMIN_KUBECONFIG } from './pki.js';
import { waitUntil } from './procs.js';

export async function kubectl(args: readonly string[], input?: string): Promise<string> {
  const r = await run(
    await layerBinary('kubectl/kubectl'),
    ['--kubeconfig', ADMIN_KUBECONFIG, ...args],
    input === undefined ? {} : { input },
  );
  if (r.code !== 0) throw new Error(`kubectl ${args.join(' ')} exited ${r.code}: ${r.stderr.trim()}`);
  return r.stdout;
}

// Port 5353 inside the pod, so CoreDNS runs as non-root without NET_BIND_SERVICE; the Service maps 53.
// No `forward`: names outside the cluster are not resolved, so no query leaves the machine.
const COREFILE = `.:5353 {
    errors
    health :8080
    ready :8181
    kubernetes ${CLUSTER_DOMAIN} in-addr.arpa ip6.arpa {
        pods insecure
        fallthrough in-addr.arpa ip6.arpa
        ttl 5
    }
    cache 5
}
`;

const labels = { 'k8s-app': 'kube-dns' };
const COREDNS = [
  { apiVersion: 'v1', kind: 'ServiceAccount', metadata: { name: 'coredns', namespace: 'kube-system' } },
  {
    apiVersion: 'rbac.authorization.k8s.io/v1',
    kind: 'ClusterRole',
    metadata: { name: 'system:coredns' },
    rules: [
      { apiGroups: [''], resources: ['endpoints', 'services', 'pods', 'namespaces'], verbs: ['list', 'watch'] },
      { apiGroups: ['discovery.k8s.io'], resources: ['endpointslices'], verbs: ['list', 'watch'] },
    ],
  },
  {
    apiVersion: 'rbac.authorization.k8s.io/v1',
    kind: 'ClusterRoleBinding',
    metadata: { name: 'system:coredns' },
    roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name: 'system:coredns' },
    subjects: [{ kind: 'ServiceAccount', name: 'coredns', namespace: 'kube-system' }],
  },
  {
    apiVersion: 'v1',
    kind: 'ConfigMap',
    metadata: { name: 'coredns', namespace: 'kube-system' },
    data: { Corefile: COREFILE },
  },
  {
    apiVersion: 'apps/v1',
    kind: 'Deployment',
    metadata: { name: 'coredns', namespace: 'kube-system', labels },
    spec: {
      replicas: 1,
      selector: { matchLabels: labels },
      template: {
        metadata: { labels },
        spec: {
          serviceAccountName: 'coredns',
          priorityClassName: 'system-cluster-critical',
          dnsPolicy: 'Default',
          securityContext: {
            runAsNonRoot: true,
            runAsUser: 65532,
            runAsGroup: 65532,
            seccompProfile: { type: 'RuntimeDefault' },
          },
          containers: [
            {
              name: 'coredns',
              image: IMAGES.coredns,
              imagePullPolicy: 'Never',
              args: ['-conf', '/etc/coredns/Corefile'],
              ports: [
                { name: 'dns', containerPort: 5353, protocol: 'UDP' },
                { name: 'dns-tcp', containerPort: 5353, protocol: 'TCP' },
              ],
              readinessProbe: { httpGet: { path: '/ready', port: 8181 }, periodSeconds: 2 },
              livenessProbe: { httpGet: { path: '/health', port: 8080 }, periodSeconds: 10 },
              resources: { requests: { cpu: '50m', memory: '32Mi' }, limits: { memory: '128Mi' } },
              securityContext: {
                allowPrivilegeEscalation: false,
                readOnlyRootFilesystem: true,
                capabilities: { drop: ['ALL'] },
              },
              volumeMounts: [{ name: 'config', mountPath: '/etc/coredns', readOnly: true }],
            },
          ],
          volumes: [{ name: 'config', configMap: { name: 'coredns' } }],
        },
      },
    },
  },
  {
    apiVersion: 'v1',
    kind: 'Service',
    metadata: { name: 'kube-dns', namespace: 'kube-system', labels },
    spec: {
      selector: labels,
      clusterIP: DNS_IP,
      ports: [
        { name: 'dns', port: 53, targetPort: 5353, protocol: 'UDP' },
        { name: 'dns-tcp', port: 53, targetPort: 5353, protocol: 'TCP' },
      ],
    },
  },
];

export async function waitNodeReady(timeoutMs: number): Promise<void> {
  await waitUntil(
    `node ${NODE_NAME} Ready`,
    async () => {
      const s = await kubectl([
        'get',
        'node',
        NODE_NAME,
        '-o',
        'jsonpath={.status.conditions[?(@.type=="Ready")].status}',
      ]);
      return s.trim() === 'True';
    },
    { timeoutMs, proc: 'kubelet' },
  );
}

export async function installCoreDns(): Promise<void> {
  await kubectl(['apply', '-f', '-'], JSON.stringify({ apiVersion: 'v1', kind: 'List', items: COREDNS }));
}

/** CoreDNS answers through its Service IP (so kube-proxy's rules work too), from the node. */
export async function waitDns(timeoutMs: number): Promise<void> {
  const resolver = new Resolver({ timeout: 1000, tries: 1 });
  resolver.setServers([DNS_IP]);
  await waitUntil(
    `CoreDNS answering on ${DNS_IP}`,
    async () => {
      const [ip] = await resolver.resolve4(`kubernetes.default.svc.${CLUSTER_DOMAIN}`);
      return ip !== undefined;
    },
    { timeoutMs, proc: 'kube-proxy' },
  );
}

export async function waitDefaultServiceAccount(timeoutMs: number): Promise<void> {
  await waitUntil(
    'ServiceAccount default/default',
    async () => {
      await kubectl(['get', 'serviceaccount', 'default', '--namespace', 'default', '-o', 'name']);
      return true;
    },
    { timeoutMs, proc: 'kube-controller-manager' },
  );
}
