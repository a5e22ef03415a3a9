/**
 * `up`: builds what is missing, starts the cluster unless a healthy one is already running on this
 * machine (any checkout's: the state is machine-level), loads this checkout's images, and leaves
 * `.cluster/kubeconfig` and `.cluster/bin/{kubectl,helm}` in this checkout. Each phase is timed.
 */
import { spawn } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { copyFile, mkdir, readdir, rm, symlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { run } from '../../controlplane/cluster.js';
import { layerBinary } from '../../helpers/helm.js';
import { installCoreDns, kubectl, waitDefaultServiceAccount, waitDns, waitNodeReady } from './addons.js';
import { launch, START_ORDER, type ProcName } from './components.js';
import {
  BIN_DIR,
  CLUSTER_DIR,
  CONTAINERD_SOCK,
  COREDNS_VERSION,
  ETCD_PORT,
  GO_CACHE_DIR,
  IMAGES,
  INFRA_DIR,
  K8S_VERSION,
  KUBECONFIG,
  REPO_ROOT,
  STATE_DIR,
  STATE_FILE,
} from './config.js';
import { down } from './down.js';
import { agentImage, baseImages, binaryImage, importImage, shimImage, type Bases } from './images.js';
import { setup as setupNetwork } from './network.js';
import { ADMIN_KUBECONFIG, makePki } from './pki.js';
import { runningPid, startDetached, waitUntil } from './procs.js';

export interface Phase {
  readonly name: string;
  readonly ms: number;
  readonly note: string;
}

async function timed(phases: Phase[], name: string, fn: () => Promise<string>): Promise<void> {
  const t0 = Date.now();
  process.stderr.write(`== ${name}\n`);
  const note = await fn();
  phases.push({ name, ms: Date.now() - t0, note });
}

/** A build script whose progress the developer sees (stderr inherited); resolves with its stdout. */
function script(file: string, env: NodeJS.ProcessEnv): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn('bash', [file], { env, stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    child.stdout.on('data', (c: Buffer) => (out += c.toString()));
    child.on('error', reject);
    child.on('exit', (code) => (code === 0 ? resolve(out) : reject(new Error(`${file} exited ${code}`))));
  });
}

const GO_ENV = { ...process.env, AUTH_SHIM_CONTROLPLANE_CACHE: GO_CACHE_DIR, COREDNS_VERSION };

/** The recorded cluster is running (all processes, API ready, node Ready) and runs the versions this checkout pins. */
async function healthyCluster(): Promise<boolean> {
  if (!START_ORDER.every((p) => runningPid(p) !== undefined) || !existsSync(STATE_FILE)) return false;
  const state = JSON.parse(readFileSync(STATE_FILE, 'utf8')) as { kubernetes?: string; coredns?: string };
  if (state.kubernetes !== K8S_VERSION || state.coredns !== COREDNS_VERSION) return false;
  try {
    await kubectl(['get', '--raw', '/readyz']);
    const ready = await kubectl([
      'get',
      'nodes',
      '-o',
      'jsonpath={.items[*].status.conditions[?(@.type=="Ready")].status}',
    ]);
    return ready.trim() === 'True';
  } catch {
    return false;
  }
}

/** The per-cluster state of a previous cluster; containerd's image store and the import stamps stay. */
async function wipeClusterState(): Promise<void> {
  if (!existsSync(STATE_DIR)) return;
  const keep = new Set(['containerd', 'imported']);
  for (const entry of await readdir(STATE_DIR))
    if (!keep.has(entry)) await rm(join(STATE_DIR, entry), { recursive: true, force: true });
}

async function startProcess(name: ProcName): Promise<void> {
  const { bin, args } = await launch(name);
  startDetached(name, bin, args);
  const ready: Partial<Record<ProcName, () => Promise<boolean>>> = {
    etcd: async () => (await fetch(`http://127.0.0.1:${ETCD_PORT}/health`)).ok,
    'kube-apiserver': async () => (await kubectl(['get', '--raw', '/readyz'])).trim() === 'ok',
    containerd: async () =>
      existsSync(CONTAINERD_SOCK) && (await run('ctr', ['--address', CONTAINERD_SOCK, 'version'])).code === 0,
  };
  const check = ready[name];
  if (check !== undefined) await waitUntil(`${name} ready`, check, { timeoutMs: 120_000, proc: name });
}

async function images(phases: Phase[]): Promise<Bases> {
  let bases: Bases | undefined;
  await timed(phases, 'base images (mmdebstrap + Node)', async () => {
    bases = await baseImages();
    return bases.built ? 'built' : 'cached';
  });
  if (bases === undefined) throw new Error('unreachable');
  const b = bases;
  await timed(phases, `${IMAGES.shim} (Dockerfile)`, async () => {
    await shimImage(b);
    return 'built from this checkout (layer cache)';
  });
  await timed(phases, IMAGES.agent, async () => ((await agentImage(b)) ? 'built' : 'cached'));
  return b;
}

async function writeCheckoutFiles(): Promise<void> {
  await mkdir(BIN_DIR, { recursive: true });
  await copyFile(ADMIN_KUBECONFIG, KUBECONFIG);
  for (const [name, entry] of [
    ['kubectl', 'kubectl/kubectl'],
    ['helm', 'helm/helm'],
  ] as const) {
    const link = join(BIN_DIR, name);
    await rm(link, { force: true });
    await symlink(await layerBinary(entry), link);
  }
  await writeFile(join(CLUSTER_DIR, '.gitignore'), '*\n');
}

export async function up(): Promise<Phase[]> {
  const phases: Phase[] = [];
  await timed(phases, `kubernetes ${K8S_VERSION} binaries (go build)`, async () => {
    const before = existsSync(join(GO_CACHE_DIR, 'bin', `kubelet-${K8S_VERSION}`));
    await script(join(REPO_ROOT, 'test', 'controlplane', 'build-apiserver.sh'), GO_ENV);
    return before ? 'cached' : 'built';
  });
  let coredns = '';
  let pause = '';
  await timed(phases, `CoreDNS ${COREDNS_VERSION} + pause (go build)`, async () => {
    const before = existsSync(join(GO_CACHE_DIR, 'bin', `coredns-${COREDNS_VERSION}`));
    [coredns = '', pause = ''] = (await script(join(INFRA_DIR, 'build-go.sh'), GO_ENV)).trim().split('\n');
    return before ? 'cached' : 'built';
  });
  await images(phases);
  await timed(phases, 'CoreDNS and pause images', async () => {
    const built = [
      await binaryImage(IMAGES.coredns, coredns, '65532:65532'),
      await binaryImage(IMAGES.pause, pause, '65535:65535'),
    ];
    return built.some(Boolean) ? 'built' : 'cached';
  });

  const reuse = await healthyCluster();
  if (reuse) {
    phases.push({ name: 'cluster', ms: 0, note: `reused the running cluster (${STATE_FILE})` });
  } else {
    await timed(phases, 'clean up a previous cluster', async () => {
      await down((l) => process.stderr.write(`   ${l}\n`));
      await wipeClusterState();
      return 'done';
    });
    await timed(phases, 'certificates + pod network', async () => {
      await makePki();
      await setupNetwork();
      return 'created';
    });
    await timed(phases, 'etcd, kube-apiserver, controller-manager, scheduler, containerd', async () => {
      for (const name of ['etcd', 'kube-apiserver', 'kube-controller-manager', 'kube-scheduler', 'containerd'] as const)
        await startProcess(name);
      return 'started';
    });
  }
  await timed(phases, 'load images into containerd', async () => {
    const loaded: string[] = [];
    for (const tag of [IMAGES.pause, IMAGES.coredns, IMAGES.shim, IMAGES.agent])
      if (await importImage(tag)) loaded.push(tag);
    return loaded.length === 0 ? 'all present' : `imported ${loaded.join(', ')}`;
  });
  if (!reuse) {
    await timed(phases, 'kubelet + kube-proxy, node Ready', async () => {
      await startProcess('kubelet');
      await startProcess('kube-proxy');
      await installCoreDns();
      await waitNodeReady(180_000);
      return 'Ready';
    });
    await timed(phases, 'CoreDNS answering, default ServiceAccount', async () => {
      await waitDns(180_000);
      await waitDefaultServiceAccount(60_000);
      return 'ok';
    });
    await writeFile(
      STATE_FILE,
      JSON.stringify(
        {
          kubernetes: K8S_VERSION,
          coredns: COREDNS_VERSION,
          startedBy: REPO_ROOT,
          startedAt: new Date().toISOString(),
        },
        null,
        2,
      ),
    );
  }
  await writeCheckoutFiles();
  return phases;
}
