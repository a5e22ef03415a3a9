import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { run } from '../controlplane/cluster.js';
import { waitFor, type Kubectl, type Obj } from '../controlplane/kube.js';
import { REPO_ROOT } from '../helpers/helm.js';

/**
 * The one-node test cluster `npm run cluster -- up` leaves behind (containerd, kubelet, the images
 * built from the Dockerfile): its kubeconfig and the kubectl and helm it was tested with. Every
 * command a test runs goes through these, never a kubectl or kubeconfig of the machine.
 */
export const CLUSTER_DIR = join(REPO_ROOT, '.cluster');
export const KUBECONFIG = join(CLUSTER_DIR, 'kubeconfig');
const BIN = join(CLUSTER_DIR, 'bin');
export const SHIM_IMAGE = 'localhost/auth-shim:e2e';
export const AGENT_IMAGE = 'localhost/agent:e2e';

/** Chart values that make it use the image built here (no registry can be reached). */
export const LOCAL_IMAGE_VALUES = [
  '--set',
  'image.repository=localhost/auth-shim',
  '--set',
  'image.tag=e2e',
  '--set',
  'image.pullPolicy=Never',
  '--set',
  'sidecar.pullPolicy=Never',
];

/** The environment a developer's shell has after `npm run cluster -- up` (docs/KUBERNETES.md). */
function shellEnv(extra: Record<string, string> = {}): Record<string, string> {
  const home = join(REPO_ROOT, 'node_modules', '.cache', 'auth-shim', 'cluster-home');
  return {
    PATH: `${BIN}:${process.env['PATH'] ?? ''}`,
    HOME: home,
    KUBECONFIG,
    HELM_CACHE_HOME: join(home, 'helm-cache'),
    HELM_CONFIG_HOME: join(home, 'helm-config'),
    HELM_DATA_HOME: join(home, 'helm-data'),
    ...extra,
  };
}

export const kube: Kubectl = {
  kubectl: (args, input) =>
    run(join(BIN, 'kubectl'), ['--kubeconfig', KUBECONFIG, ...args], {
      env: shellEnv(),
      ...(input !== undefined ? { input } : {}),
    }),
  async kubectlOk(args, input) {
    const r = await kube.kubectl(args, input);
    if (r.code !== 0) throw new Error(`kubectl ${args.join(' ')} exited ${r.code}: ${r.stderr}`);
    return r.stdout;
  },
};

export async function helmOk(args: readonly string[]): Promise<string> {
  const r = await run(join(BIN, 'helm'), ['--kubeconfig', KUBECONFIG, ...args], { env: shellEnv(), cwd: REPO_ROOT });
  if (r.code !== 0) throw new Error(`helm ${args.join(' ')} exited ${r.code}:\n${r.stdout}\n${r.stderr}`);
  return r.stdout;
}

/**
 * Runs a command exactly as the docs print it, in bash, with the cluster's kubectl and helm first
 * on PATH and its kubeconfig in KUBECONFIG (what a reader's shell has). `env` fills the variables
 * the docs leave to the reader (`$NEW`, `$CLAUDE_OAUTH_TOKEN`).
 */
export function sh(
  command: string,
  env: Record<string, string> = {},
): Promise<{ code: number; stdout: string; stderr: string }> {
  return run('bash', ['-o', 'pipefail', '-c', command], { env: shellEnv(env), cwd: REPO_ROOT });
}

export async function shOk(command: string, env: Record<string, string> = {}): Promise<string> {
  const r = await sh(command, env);
  if (r.code !== 0) throw new Error(`\`${command}\` exited ${r.code}:\n${r.stdout}\n${r.stderr}`);
  return r.stdout;
}

/** A long-running command (port-forward, `kubectl exec -i`, `logs -f`) with its output collected. */
export interface Background {
  readonly child: ChildProcess;
  readonly out: () => string;
  readonly exited: Promise<number | null>;
  stop(): Promise<void>;
}

export function background(cmd: 'kubectl' | 'sh', args: readonly string[]): Background {
  const [file, argv] =
    cmd === 'kubectl' ? [join(BIN, 'kubectl'), ['--kubeconfig', KUBECONFIG, ...args]] : ['bash', ['-c', ...args]];
  const child = spawn(file, argv, { env: shellEnv(), cwd: REPO_ROOT, stdio: ['pipe', 'pipe', 'pipe'] });
  let text = '';
  child.stdout.on('data', (c: Buffer) => (text += c.toString()));
  child.stderr.on('data', (c: Buffer) => (text += c.toString()));
  const exited = new Promise<number | null>((r) => child.on('exit', (code) => r(code)));
  return {
    child,
    out: () => text,
    exited,
    async stop() {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
      await exited;
    },
  };
}

/**
 * Fails (never skips) when there is no cluster: a suite that skipped without one would pass on
 * every machine that lacks it.
 */
export async function requireCluster(): Promise<void> {
  const missing = [KUBECONFIG, join(BIN, 'kubectl'), join(BIN, 'helm')].filter((f) => !existsSync(f));
  if (missing.length > 0)
    throw new Error(
      `no test cluster (${missing.join(', ')} missing): ` +
        'run `npm run cluster -- up` first (.ci/run does before `npm test`)',
    );
  const r = await kube.kubectl([
    'get',
    'nodes',
    '-o',
    'jsonpath={.items[*].status.conditions[?(@.type=="Ready")].status}',
  ]);
  if (r.code !== 0 || !r.stdout.includes('True'))
    throw new Error(
      `the test cluster is not up (kubectl get nodes: ${r.stdout}${r.stderr.trim()}): run \`npm run cluster -- up\``,
    );
}

/** The node's address on the pod bridge: host-side test servers listen there so pods reach them. */
export async function nodeAddress(): Promise<string> {
  const ip = (
    await kube.kubectlOk([
      'get',
      'nodes',
      '-o',
      'jsonpath={.items[0].status.addresses[?(@.type=="InternalIP")].address}',
    ])
  ).trim();
  if (!/^\d+\.\d+\.\d+\.\d+$/.test(ip)) throw new Error(`the node has no InternalIP: ${JSON.stringify(ip)}`);
  return ip;
}

/**
 * A Service with no selector and an EndpointSlice pointing at a host-side server on the node's
 * address: `http://<name>.<namespace>.svc:<port>` then works from any pod, through CoreDNS and
 * kube-proxy, as it would for an in-cluster LiteLLM.
 */
export function hostService(name: string, namespace: string, port: number, address: string, targetPort: number): Obj[] {
  return [
    {
      apiVersion: 'v1',
      kind: 'Service',
      metadata: { name, namespace },
      spec: { ports: [{ name: 'http', port, targetPort, protocol: 'TCP' }] },
    },
    {
      apiVersion: 'discovery.k8s.io/v1',
      kind: 'EndpointSlice',
      metadata: { name: `${name}-host`, namespace, labels: { 'kubernetes.io/service-name': name } },
      addressType: 'IPv4',
      ports: [{ name: 'http', port: targetPort, protocol: 'TCP' }],
      endpoints: [{ addresses: [address], conditions: { ready: true } }],
    },
  ];
}

/** Deletes namespaces (and so everything in them) and waits until they are gone. */
export async function deleteNamespaces(...names: string[]): Promise<void> {
  if (names.length === 0) return;
  await kube.kubectl(['delete', 'namespace', ...names, '--ignore-not-found', '--wait=true', '--timeout=300s']);
}

export async function createNamespace(name: string, labels: Record<string, string> = {}): Promise<void> {
  await kube.kubectlOk(
    ['create', '-f', '-'],
    JSON.stringify({ apiVersion: 'v1', kind: 'Namespace', metadata: { name, labels } }),
  );
  // Pods need the `default` ServiceAccount, which the controller-manager adds a moment later.
  await waitFor(
    `ServiceAccount default in ${name}`,
    async () => ((await kube.kubectl(['get', 'serviceaccount', 'default', '-n', name])).code === 0 ? true : undefined),
    60_000,
    500,
  );
}

/** Waits for `kubectl wait` conditions with a generous bound (a loaded 2-core machine). */
export async function kwait(args: readonly string[], timeoutS = 300): Promise<void> {
  await kube.kubectlOk(['wait', ...args, `--timeout=${timeoutS}s`]);
}

export async function podJson(namespace: string, selectorOrName: string): Promise<Obj> {
  const isSelector = selectorOrName.includes('=');
  const o = JSON.parse(
    await kube.kubectlOk([
      'get',
      'pods',
      '-n',
      namespace,
      ...(isSelector ? ['-l', selectorOrName] : [selectorOrName]),
      '-o',
      'json',
    ]),
  ) as Obj & { items?: Obj[] };
  if (!isSelector) return o;
  const items = o.items ?? [];
  if (items.length !== 1)
    throw new Error(`expected one pod for ${selectorOrName} in ${namespace}, found ${items.length}`);
  return items[0] as Obj;
}

/** A script from test/cluster/pod/ (run by `node -e` in the agent image). */
export function podScript(name: string): string {
  return readFileSync(join(import.meta.dirname, 'pod', name), 'utf8');
}

/**
 * The command of a doc that starts with `prefix`: a line of a fenced shell block (backslash
 * continuations joined, a trailing `# comment` dropped), else an inline code span. Tests run what
 * this returns, so a command edited in the docs is the command tested.
 */
export function docCommand(file: string, prefix: string): string {
  const text = readFileSync(join(REPO_ROOT, file), 'utf8');
  const blocks = [...text.matchAll(/```(?:sh|bash)\n([\s\S]*?)```/g)].map((m) => m[1] ?? '');
  const lines = blocks.flatMap((b) =>
    b
      .replace(/\\\n\s*/g, '')
      .split('\n')
      .map((l) => l.replace(/\s+#.*$/, '').trim()),
  );
  const spans = [...text.replace(/```[\s\S]*?```/g, '').matchAll(/`([^`\n]+)`/g)].map((m) =>
    (m[1] ?? '').replaceAll('\\|', '|').trim(),
  );
  const hit = [...lines, ...spans].find((l) => l.startsWith(prefix));
  if (hit === undefined) throw new Error(`${file}: no shell command starting with ${JSON.stringify(prefix)}`);
  return hit;
}

const FENCE = '```';

/** The first fenced block (of `lang`) of a doc that contains `marker`. */
export function docBlock(file: string, marker: string, lang = 'yaml'): string {
  const text = readFileSync(join(REPO_ROOT, file), 'utf8');
  const block = [...text.matchAll(new RegExp(`${FENCE}${lang}\\n([\\s\\S]*?)${FENCE}`, 'g'))]
    .map((m) => m[1] ?? '')
    .find((b) => b.includes(marker));
  if (block === undefined) throw new Error(`${file}: no ${lang} block containing ${JSON.stringify(marker)}`);
  return block;
}

export async function tmp(prefix: string): Promise<string> {
  return mkdtemp(join(tmpdir(), prefix));
}

export { waitFor };
