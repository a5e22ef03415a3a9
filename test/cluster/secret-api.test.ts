import { parse } from 'yaml';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { startFakeAnthropic, type FakeAnthropic } from '../../src/demo/fake-anthropic.js';
import { baseUrl, sidecarContainer } from '../../src/injector/sidecar.js';
import { LITELLM_KEY, OAUTH, OAUTH_2 } from '../helpers/shim.js';
import { sidecarSettings } from '../helpers/sidecar-settings.js';
import {
  createNamespace,
  deleteNamespaces,
  docBlock,
  docCommand,
  kube,
  nodeAddress,
  requireCluster,
  SHIM_IMAGE,
  shOk,
  waitFor,
} from './_cluster.js';
import { agentContainer, agentPodTemplate, startRequestLoop, type LoopSummary } from './_pods.js';

/**
 * The Kubernetes API credential mode (`AUTH_SHIM_SECRET`, README "Kubernetes API mode") in a real
 * pod: the sidecar's ServiceAccount has exactly the Role the README gives (one Secret, by name),
 * it has no Secret volume at all, and a rotation written with the README's command reaches it
 * through its watch. The fake Anthropic runs on the host, on the node's bridge address.
 */

const README = 'README.md';
const NS = 'agents';

let fake: FakeAnthropic;
let clusterUp = false;

/** The README's `AUTH_SHIM_SECRET…=…` lines, as the sidecar's env. */
function readmeEnv(): Array<{ name: string; value: string }> {
  return docBlock(README, 'AUTH_SHIM_SECRET=', 'sh')
    .split('\n')
    .map((l) => l.replace(/\s+#.*$/, '').trim())
    .filter((l) => l !== '')
    .map((l) => {
      const [name, ...value] = l.split('=');
      return { name: name as string, value: value.join('=') };
    });
}

beforeAll(async () => {
  await requireCluster();
  clusterUp = true;
  await deleteNamespaces(NS);
  fake = await startFakeAnthropic(await nodeAddress());
  await createNamespace(NS);
}, 900_000);

afterAll(async () => {
  if (clusterUp) await deleteNamespaces(NS);
  await fake?.close();
}, 900_000);

it("a pod with the README's RBAC reads Secrets via the API; a rotation applies in seconds under load", async () => {
  await kube.kubectlOk(['-n', NS, 'create', 'serviceaccount', 'my-agent']);
  const rbac = docBlock(README, 'auth-shim-credentials')
    .split(/^---$/m)
    .map((d) => parse(d) as unknown);
  await kube.kubectlOk(['apply', '-f', '-'], JSON.stringify({ apiVersion: 'v1', kind: 'List', items: rbac }));
  const rotate = docCommand(README, 'kubectl -n agents create secret generic claude-credentials');
  await shOk(rotate, { TOKEN: OAUTH, LITELLM_KEY });

  const settings = sidecarSettings({
    image: SHIM_IMAGE,
    imagePullPolicy: 'Never',
    upstream: fake.url,
    credentialSource: 'shim-only',
  });
  const sidecar = sidecarContainer(settings);
  sidecar.env = [...(sidecar.env ?? []), ...readmeEnv()];
  const template = agentPodTemplate(
    {},
    agentContainer({
      script: 'idle.mjs',
      env: [
        { name: 'ANTHROPIC_BASE_URL', value: baseUrl(settings) },
        { name: 'ANTHROPIC_API_KEY', value: 'placeholder' },
      ],
    }),
  );
  const spec = template.spec as Record<string, unknown>;
  // The sidecar needs the ServiceAccount token for the API; the agent container gets none.
  const pod = {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name: 'api-mode', namespace: NS },
    spec: { ...spec, serviceAccountName: 'my-agent', automountServiceAccountToken: true, initContainers: [sidecar] },
  };
  await kube.kubectlOk(['apply', '-f', '-'], JSON.stringify(pod));
  await kube.kubectlOk(['-n', NS, 'wait', '--for=condition=Ready', 'pod/api-mode', '--timeout=600s']);

  const loop = await startRequestLoop(NS, 'api-mode');
  let appliedMs: number;
  let summary: LoopSummary | undefined;
  try {
    expect(fake.lastHeader('authorization')).toBe(`Bearer ${OAUTH}`);
    const since = fake.requests.length;
    const t0 = Date.now();
    await shOk(rotate, { TOKEN: OAUTH_2, LITELLM_KEY });
    const first = await waitFor(
      'a request with the rotated token',
      async () => {
        const i = fake.requests.slice(since).findIndex((r) => r.headers['authorization']?.[0] === `Bearer ${OAUTH_2}`);
        return i === -1 ? undefined : since + i;
      },
      120_000,
      50,
    );
    appliedMs = Date.now() - t0;
    await waitFor('20 more requests', async () => (fake.requests.length > first + 20 ? true : undefined), 120_000, 100);
    expect(
      fake.requests
        .slice(first)
        .map((r) => r.headers['authorization']?.[0])
        .filter((a) => a !== `Bearer ${OAUTH_2}`),
    ).toEqual([]);
    expect(fake.lastHeader('x-litellm-api-key')).toBe(LITELLM_KEY);
  } finally {
    summary = await loop.stop();
  }
  expect(summary.failed, summary.output).toBe(0);
  // No volume and no kubelet in the path: the watch delivered it.
  const stored = JSON.parse(await kube.kubectlOk(['-n', NS, 'get', 'pod', 'api-mode', '-o', 'json'])) as {
    spec: { volumes?: Array<{ secret?: unknown }> };
  };
  expect((stored.spec.volumes ?? []).filter((v) => v.secret !== undefined)).toEqual([]);
  process.stderr.write(
    `[cluster] API-mode rotation: applied ${appliedMs} ms after kubectl apply; ` +
      `${summary.ok} requests, ${summary.failed} failed\n`,
  );
}, 900_000);
