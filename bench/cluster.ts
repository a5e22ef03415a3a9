import { execFile } from 'node:child_process';
import { cpus } from 'node:os';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { sse, sseEvents, startFakeAnthropic, type FakeAnthropic } from '../src/demo/fake-anthropic.js';
import { run } from '../test/controlplane/cluster.js';
import { CLI } from '../test/helpers/child.js';
import { OAUTH } from '../test/helpers/shim.js';
import {
  background,
  createNamespace,
  deleteNamespaces,
  kube,
  nodeAddress,
  requireCluster,
  SHIM_IMAGE,
  AGENT_IMAGE,
  waitFor,
} from '../test/cluster/_cluster.js';
import { agentContainer, agentPodTemplate, nodeScript } from '../test/cluster/_pods.js';
import { median, type ClusterResults } from './cluster-report.js';
import { writePerformanceDocs } from './docs.js';

/**
 * `npm run bench:cluster`: the image and the injected sidecar measured in real pods on the test
 * cluster (`npm run cluster -- up`). Never a test: numbers go to bench/results/cluster.json and
 * docs/PERFORMANCE.md. Runs as root on the node's machine (it reads the sidecar's cgroup there).
 */

const NS = 'auth-shim-bench';
const REQUESTS = Number(process.env['BENCH_CLUSTER_REQUESTS'] ?? 10_000);
const STREAMS = 100;
const START_RUNS = Number(process.env['BENCH_CLUSTER_START_RUNS'] ?? 10);
const log = (line: string): void => void process.stderr.write(`[bench:cluster] ${line}\n`);
const sh = promisify(execFile);

/** A pod spec passed through `auth-shim inject` with the sidecar image built here. */
async function injected(pod: unknown, upstream: string): Promise<Record<string, unknown>> {
  const r = await run(process.execPath, [CLI, 'inject', '-'], {
    input: JSON.stringify(pod),
    env: {
      PATH: process.env['PATH'] ?? '',
      AUTH_SHIM_SIDECAR_IMAGE: SHIM_IMAGE,
      AUTH_SHIM_SIDECAR_IMAGE_PULL_POLICY: 'Never',
      AUTH_SHIM_DEFAULT_UPSTREAM_URL: upstream,
      AUTH_SHIM_OAUTH_TOKEN_SECRET: 'claude-oauth',
      AUTH_SHIM_DEFAULT_CREDENTIAL_SOURCE: 'shim-only',
    },
  });
  if (r.code !== 0) throw new Error(`auth-shim inject: ${r.stderr}`);
  return (await import('yaml')).parse(r.stdout) as Record<string, unknown>;
}

function pod(
  name: string,
  annotations: Record<string, string>,
  container: Record<string, unknown>,
  restartPolicy?: string,
) {
  const t = agentPodTemplate(annotations, container, restartPolicy);
  return { apiVersion: 'v1', kind: 'Pod', metadata: { name, namespace: NS, ...t.metadata }, spec: t.spec };
}

/** The sidecar's working set as the kubelet computes it, from its memory cgroup on this machine. */
async function workingSet(podName: string): Promise<number> {
  const p = JSON.parse(await kube.kubectlOk(['-n', NS, 'get', 'pod', podName, '-o', 'json'])) as {
    status: { initContainerStatuses?: Array<{ name: string; containerID?: string }> };
  };
  const id = p.status.initContainerStatuses
    ?.find((c) => c.name === 'auth-shim')
    ?.containerID?.replace(/^containerd:\/\//, '');
  if (id === undefined) throw new Error(`${podName}: no auth-shim container ID`);
  const { stdout } = await sh('find', ['/sys/fs/cgroup/memory', '-maxdepth', '6', '-type', 'd', '-name', `*${id}*`]);
  const dir = stdout.trim().split('\n')[0];
  if (dir === undefined || dir === '') throw new Error(`no memory cgroup for container ${id}`);
  const usage = Number((await readFile(join(dir, 'memory.usage_in_bytes'), 'utf8')).trim());
  const stat = await readFile(join(dir, 'memory.stat'), 'utf8');
  const inactive = Number(/^total_inactive_file (\d+)$/m.exec(stat)?.[1] ?? 0);
  return usage - inactive;
}

async function execAgent(podName: string, args: string[]): Promise<string> {
  return kube.kubectlOk(['-n', NS, 'exec', podName, '-c', 'agent', '--', ...args]);
}

async function memory(fake: FakeAnthropic): Promise<ClusterResults['memory']> {
  const name = 'memory';
  await kube.kubectlOk(
    ['apply', '-f', '-'],
    JSON.stringify(
      await injected(pod(name, { 'auth-shim.io/inject': 'true' }, agentContainer({ script: 'idle.mjs' })), fake.url),
    ),
  );
  await kube.kubectlOk(['-n', NS, 'wait', '--for=condition=Ready', `pod/${name}`, '--timeout=600s']);
  await new Promise((r) => setTimeout(r, 5000));
  const idleBytes = await workingSet(name);
  log(`idle: ${(idleBytes / 2 ** 20).toFixed(1)} MiB`);
  const load = JSON.parse(
    (await execAgent(name, nodeScript('load.mjs', String(REQUESTS), '8'))).trim().split('\n').at(-1) ?? '{}',
  ) as { ok: number; failed: number; ms: number };
  const after = await workingSet(name);
  log(`after ${REQUESTS} requests (${load.failed} failed, ${load.ms} ms): ${(after / 2 ** 20).toFixed(1)} MiB`);
  let release: () => void = () => undefined;
  const released = new Promise<void>((r) => (release = r));
  fake.respond = async (req, res) => {
    if (!req.body.toString().includes('hold-stream')) return void sse(res);
    res.writeHead(200, { 'content-type': 'text/event-stream' });
    res.write(sseEvents('claude-sonnet-4-5', ['x'])[0]);
    await released;
    res.end();
  };
  await execAgent(name, ['node', '-e', "require('fs').rmSync('/tmp/stop-streams',{force:true})"]);
  const streams = background('kubectl', [
    '-n',
    NS,
    'exec',
    name,
    '-c',
    'agent',
    '--',
    ...nodeScript('streams.mjs', String(STREAMS)),
  ]);
  await waitFor(
    `${STREAMS} open streams`,
    async () => {
      if (streams.child.exitCode !== null) throw new Error(`streams exited: ${streams.out()}`);
      return streams.out().includes('"open"') ? true : undefined;
    },
    300_000,
    200,
  );
  await new Promise((r) => setTimeout(r, 2000));
  const open = await workingSet(name);
  log(`${STREAMS} open streams: ${(open / 2 ** 20).toFixed(1)} MiB`);
  await execAgent(name, ['node', '-e', "require('fs').writeFileSync('/tmp/stop-streams','')"]);
  release();
  await streams.stop();
  await kube.kubectl(['-n', NS, 'delete', 'pod', name, '--wait=false']);
  return {
    idle: idleBytes,
    afterRequests: after,
    requests: load.ok + load.failed,
    requestsFailed: load.failed,
    openStreams: open,
    streams: STREAMS,
  };
}

/**
 * Creation → the agent container's first line (its own wall clock; same machine), and for an
 * injected pod also the sidecar's `listening` line → that first line: how long the agent waited
 * for the startup probe to notice a ready sidecar.
 */
async function startOnce(name: string, spec: unknown): Promise<{ ms: number; afterReady?: number }> {
  const t0 = Date.now();
  await kube.kubectlOk(['create', '-f', '-'], JSON.stringify(spec));
  const at = await waitFor(
    `${name} started`,
    async () => {
      const r = await kube.kubectl(['-n', NS, 'logs', name, '-c', 'agent']);
      const line = r.stdout.split('\n').find((l) => l.includes('"started"'));
      return line === undefined ? undefined : (JSON.parse(line) as { at: number }).at;
    },
    300_000,
    50,
  );
  const shim = await kube.kubectl(['-n', NS, 'logs', name, '-c', 'auth-shim']);
  const listening = shim.stdout.split('\n').find((l) => l.includes('"event":"listening"'));
  await kube.kubectl(['-n', NS, 'delete', 'pod', name, '--wait=false']);
  return listening === undefined
    ? { ms: at - t0 }
    : { ms: at - t0, afterReady: at - Date.parse((JSON.parse(listening) as { time: string }).time) };
}

async function podStart(upstream: string): Promise<ClusterResults['podStart']> {
  const plain: number[] = [];
  const withSidecar: number[] = [];
  const afterReady: number[] = [];
  const container = agentContainer({ script: 'started.mjs' });
  // One unmeasured round first: the first pod of a run pays for cold page caches.
  await startOnce('warm-plain', pod('warm-plain', {}, container, 'Never'));
  await startOnce(
    'warm-injected',
    await injected(pod('warm-injected', { 'auth-shim.io/inject': 'true' }, container, 'Never'), upstream),
  );
  for (let i = 0; i < START_RUNS; i++) {
    plain.push((await startOnce(`plain-${i}`, pod(`plain-${i}`, {}, container, 'Never'))).ms);
    const inj = await startOnce(
      `injected-${i}`,
      await injected(pod(`injected-${i}`, { 'auth-shim.io/inject': 'true' }, container, 'Never'), upstream),
    );
    withSidecar.push(inj.ms);
    if (inj.afterReady !== undefined) afterReady.push(inj.afterReady);
    log(
      `pod start ${i + 1}/${START_RUNS}: plain ${plain.at(-1)} ms, ` +
        `injected ${inj.ms} ms (${inj.afterReady} ms after the sidecar was ready)`,
    );
  }
  return { plain, injected: withSidecar, afterReady };
}

async function imageBytes(): Promise<Record<string, number>> {
  const node = JSON.parse(await kube.kubectlOk(['get', 'nodes', '-o', 'json'])) as {
    items: Array<{ status: { images: Array<{ names: string[] | null; sizeBytes: number }> } }>;
  };
  const out: Record<string, number> = {};
  for (const want of [SHIM_IMAGE, AGENT_IMAGE]) {
    const img = node.items[0]?.status.images.find((i) =>
      (i.names ?? []).some((n) => n.endsWith(want.replace(/^localhost\//, ''))),
    );
    if (img !== undefined) out[want] = img.sizeBytes;
  }
  return out;
}

const t0 = Date.now();
await requireCluster();
await deleteNamespaces(NS);
const fake = await startFakeAnthropic(await nodeAddress());
try {
  await createNamespace(NS);
  await kube.kubectlOk([
    '-n',
    NS,
    'create',
    'secret',
    'generic',
    'claude-oauth',
    `--from-literal=oauth-token=${OAUTH}`,
  ]);
  const version = JSON.parse(await kube.kubectlOk(['version', '-o', 'json'])) as {
    serverVersion?: { gitVersion?: string };
  };
  const results: ClusterResults = {
    generatedAt: new Date().toISOString(),
    seconds: 0,
    machine: {
      kubernetes: version.serverVersion?.gitVersion ?? '?',
      cpus: String(cpus().length),
      cpu: cpus()[0]?.model ?? '?',
    },
    imageBytes: await imageBytes(),
    memory: await memory(fake),
    podStart: await podStart(fake.url),
  };
  (results as { seconds: number }).seconds = Math.round((Date.now() - t0) / 1000);
  const file = fileURLToPath(new URL('./results/cluster.json', import.meta.url));
  await writeFile(file, `${JSON.stringify(results, null, 2)}\n`);
  await writePerformanceDocs();
  log(`pod start median: plain ${median(results.podStart.plain)} ms, injected ${median(results.podStart.injected)} ms`);
  log(`wrote ${file} and docs/PERFORMANCE.md (${results.seconds} s)`);
} finally {
  await deleteNamespaces(NS);
  await fake.close();
}
