import { parse } from 'yaml';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startFakeAnthropic, type FakeAnthropic, type RecordedRequest } from '../../src/demo/fake-anthropic.js';
import type { Obj } from '../controlplane/kube.js';
import { LITELLM_NEW, startLitellm, type Litellm } from '../e2e/_peers.js';
import {
  createFakeTokenEndpoint,
  OAUTH_BETA,
  TOKEN_PATH,
  type FakeTokenEndpoint,
  type FederationIds,
} from '../helpers/fake-token-endpoint.js';
import {
  createNamespace,
  deleteNamespaces,
  docBlock,
  docCommand,
  helmOk,
  hostService,
  kube,
  LOCAL_IMAGE_VALUES,
  nodeAddress,
  podJson,
  requireCluster,
  shOk,
  waitFor,
} from './_cluster.js';
import { agentContainer, agentPodTemplate } from './_pods.js';

/**
 * Keyless on a real cluster (issue 17; docs/KUBERNETES.md "Keyless with Workload Identity
 * Federation"): the chart installed with federation defaults injects an agent pod; the kubelet
 * writes the pod's projected service-account token into the sidecar; the sidecar exchanges it
 * through a real LiteLLM's pass-through route (the docs' config) at a fake token endpoint that
 * verifies the JWT with `jose` against this API server's own keys (`kubectl get --raw
 * /openid/v1/jwks`, the docs' command) — issuer, audience, subject — and the real Claude Code CLI
 * in the agent container gets its answer with the exchanged token. A pod whose ServiceAccount the
 * rule does not name never gets a token and never starts its agent.
 */

const DOC = 'docs/KUBERNETES.md';
const RELEASE_NS = 'auth-shim-system';
const NS = 'agents';
const SA = 'claude-agent';
const OTHER_SA = 'other-agent';
const HELLO = 'Hello from the fake Anthropic.';
const IDS: FederationIds = {
  federationRuleId: 'fdrl_01CLUSTERRULE0123456789ab',
  organizationId: '4c2d9e1a-7b3f-4e5a-9c1d-2f6b8a0e3d57',
  serviceAccountId: 'svac_01CLUSTERSVAC0123456789ab',
};
const RESTRICTED = {
  'pod-security.kubernetes.io/enforce': 'restricted',
  'pod-security.kubernetes.io/enforce-version': 'latest',
};

let fake: FakeAnthropic;
let endpoint: FakeTokenEndpoint;
let litellm: Litellm;
let issuer: string;
let clusterUp = false;

async function cleanUp(): Promise<void> {
  if ((await helmOk(['list', '-n', RELEASE_NS, '-q'])).includes('auth-shim'))
    await helmOk(['uninstall', 'auth-shim', '-n', RELEASE_NS, '--wait', '--timeout', '300s']);
  await deleteNamespaces(NS, 'ai', RELEASE_NS);
}

function messages(): RecordedRequest[] {
  return fake.requests.filter((r) => r.url.startsWith('/v1/messages'));
}

/** An agent pod annotated only with `inject`: the rule, organization and service account come from the chart. */
function agentPod(name: string, serviceAccount: string): Obj {
  const template = agentPodTemplate(
    { 'auth-shim.io/inject': 'true' },
    agentContainer({ script: 'claude-agent.mjs' }),
  ) as Obj & {
    spec: Record<string, unknown>;
  };
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name, namespace: NS, ...(template.metadata as Record<string, unknown>) },
    spec: { ...template.spec, serviceAccountName: serviceAccount },
  };
}

type Container = { name: string; volumeMounts?: Array<{ name: string; mountPath: string }>; env?: unknown[] };

beforeAll(async () => {
  await requireCluster();
  clusterUp = true;
  await cleanUp();
  const bridge = await nodeAddress();

  // The Console registration, from the docs' two commands: the issuer, and its keys uploaded as a
  // JWKS (this API server's issuer is not reachable from outside).
  const discovery = JSON.parse(await shOk(docCommand(DOC, 'kubectl get --raw /.well-known/openid-configuration'))) as {
    issuer: string;
  };
  issuer = discovery.issuer;
  const jwks = JSON.parse(await shOk(docCommand(DOC, 'kubectl get --raw /openid/v1/jwks')));
  endpoint = createFakeTokenEndpoint({
    keys: { jwks },
    issuer,
    subject: `system:serviceaccount:${NS}:${SA}`,
    ids: IDS,
  });
  fake = await startFakeAnthropic(bridge);
  endpoint.attach(fake);

  // LiteLLM with the docs' pass-through route for the exchange, its target the fake Anthropic.
  const settings = parse(docBlock(DOC, 'pass_through_endpoints')) as {
    general_settings: { pass_through_endpoints: Array<Record<string, unknown>> };
  };
  const routes = settings.general_settings.pass_through_endpoints.map((r) => ({
    ...r,
    target: String(r['target']).replace('https://api.anthropic.com', fake.url),
  }));
  litellm = await startLitellm(LITELLM_NEW, fake.url, {
    host: bridge,
    generalSettings: { pass_through_endpoints: routes },
  });
  await createNamespace('ai');
  await kube.kubectlOk(
    ['apply', '-f', '-'],
    JSON.stringify({
      apiVersion: 'v1',
      kind: 'List',
      items: hostService('litellm', 'ai', 4000, bridge, Number(new URL(litellm.origin).port)),
    }),
  );

  // The chart from this checkout, federation for every injected pod, the docs' token URL value.
  const tokenUrl = docCommand(DOC, '--set sidecar.federation.tokenUrl=');
  await helmOk([
    'install',
    'auth-shim',
    './charts/auth-shim',
    '--namespace',
    RELEASE_NS,
    '--create-namespace',
    ...LOCAL_IMAGE_VALUES,
    '--set',
    'sidecar.upstreamUrl=http://litellm.ai.svc:4000/anthropic',
    '--set',
    'sidecar.credentialSource=shim-only',
    '--set',
    'sidecar.secrets.litellmKey.name=litellm-virtual-key',
    '--set',
    `sidecar.federation.ruleId=${IDS.federationRuleId}`,
    '--set',
    `sidecar.federation.organizationId=${IDS.organizationId}`,
    '--set',
    `sidecar.federation.serviceAccountId=${IDS.serviceAccountId}`,
    ...tokenUrl.split(/\s+/),
    '--wait',
    '--timeout',
    '600s',
  ]);

  await createNamespace(NS, RESTRICTED);
  await kube.kubectlOk(['-n', NS, 'create', 'serviceaccount', SA]);
  await kube.kubectlOk(['-n', NS, 'create', 'serviceaccount', OTHER_SA]);
  // No LiteLLM database here: its master key stands in for the agent's virtual key.
  await kube.kubectlOk([
    '-n',
    NS,
    'create',
    'secret',
    'generic',
    'litellm-virtual-key',
    `--from-literal=litellm-key=${litellm.masterKey}`,
  ]);
}, 900_000);

afterAll(async () => {
  if (clusterUp) await cleanUp();
  await litellm?.stop();
  await fake?.close();
}, 900_000);

describe('an agent pod in federation mode, injected by the chart', () => {
  let pod: Obj;

  beforeAll(async () => {
    const t0 = Date.now();
    await kube.kubectlOk(['apply', '-f', '-'], JSON.stringify(agentPod('claude-agent', SA)));
    await kube.kubectlOk(['-n', NS, 'wait', '--for=condition=Ready', 'pod/claude-agent', '--timeout=600s']);
    process.stderr.write(
      `[cluster] federation: pod Ready ${Date.now() - t0} ms after kubectl apply (sidecar start + first exchange); ` +
        `${endpoint.accepted().length} exchange(s) accepted\n`,
    );
    pod = await podJson(NS, 'claude-agent');
  }, 900_000);

  it('has the projected token in the sidecar only, no OAuth Secret, and passed restricted Pod Security', () => {
    const spec = pod.spec as {
      initContainers: Container[];
      containers: Container[];
      volumes: Array<{ name: string; secret?: { secretName: string }; projected?: { sources: Obj[] } }>;
    };
    const identity = spec.volumes.find((v) => v.name === 'auth-shim-identity-token');
    expect(identity?.projected?.sources).toEqual([
      { serviceAccountToken: { audience: 'https://api.anthropic.com', expirationSeconds: 3600, path: 'token' } },
    ]);
    const mounting = [...spec.initContainers, ...spec.containers]
      .filter((c) => (c.volumeMounts ?? []).some((m) => m.name === 'auth-shim-identity-token'))
      .map((c) => c.name);
    expect(mounting).toEqual(['auth-shim']);
    expect(spec.volumes.flatMap((v) => (v.secret === undefined ? [] : [v.secret.secretName]))).toEqual([
      'litellm-virtual-key',
    ]);
  });

  it("the real Claude Code CLI gets its answer; the exchange carried the kubelet's JWT for this pod's SA", async () => {
    const result = await waitFor(
      'Claude Code finishing in the agent container',
      async () => {
        const logs = await kube.kubectl(['-n', NS, 'logs', 'claude-agent', '-c', 'agent']);
        const line = logs.stdout.split('\n').find((l) => l.includes('"claude-exited"'));
        return line === undefined ? undefined : (JSON.parse(line) as { code: number | null; out: string; err: string });
      },
      600_000,
      2000,
    );
    expect(result.code, `claude -p: ${result.err}`).toBe(0);
    expect(String((JSON.parse(result.out) as { result?: unknown }).result)).toContain(HELLO);

    // Accepted means verified against the API server's keys (the JWKS registered above).
    const accepted = endpoint.accepted();
    expect(accepted.length).toBeGreaterThan(0);
    for (const x of accepted) {
      expect(x.sub).toBe(`system:serviceaccount:${NS}:${SA}`);
      // Through LiteLLM's pass-through (auth: true): LiteLLM checked its key and kept it.
      expect(x.headers['x-litellm-api-key']).toBeUndefined();
    }
    expect(fake.requests.filter((r) => r.url === TOKEN_PATH).length).toBeGreaterThanOrEqual(accepted.length);

    const issued = new Set(endpoint.issued.map((t) => t.token));
    const got = messages();
    expect(got.length).toBeGreaterThan(0);
    for (const r of got) {
      expect(issued.has(r.headers['authorization']?.[0]?.replace(/^Bearer /, '') ?? '')).toBe(true);
      expect(r.headers['anthropic-beta']?.[0]?.split(',')).toContain(OAUTH_BETA);
      expect(r.headers['x-api-key']).toBeUndefined();
    }
    expect(endpoint.checks.filter((c) => c.refused !== undefined)).toEqual([]);
  }, 900_000);

  it('the JWT is the kubelet-written file bound to this pod; no token reaches the sidecar log, /metrics', async () => {
    const jwt = (
      await kube.kubectlOk([
        '-n',
        NS,
        'exec',
        'claude-agent',
        '-c',
        'auth-shim',
        '--',
        '/nodejs/bin/node',
        '-e',
        "process.stdout.write(require('fs').readFileSync('/var/run/secrets/auth-shim/identity-token/token','utf8'))",
      ])
    ).trim();
    const claims = JSON.parse(Buffer.from(jwt.split('.')[1] ?? '', 'base64url').toString()) as {
      iss: string;
      aud: string[];
      sub: string;
      'kubernetes.io': { pod: { name: string; uid: string } };
    };
    expect(claims).toMatchObject({
      iss: issuer,
      aud: ['https://api.anthropic.com'],
      sub: `system:serviceaccount:${NS}:${SA}`,
    });
    expect(claims['kubernetes.io'].pod).toEqual({
      name: 'claude-agent',
      uid: (pod.metadata as { uid: string }).uid,
    });
    // The agent container has no such file: the volume is mounted in the sidecar only.
    const agentLook = await kube.kubectl([
      '-n',
      NS,
      'exec',
      'claude-agent',
      '-c',
      'agent',
      '--',
      'node',
      '-e',
      "require('fs').readFileSync('/var/run/secrets/auth-shim/identity-token/token')",
    ]);
    expect(agentLook.code).not.toBe(0);
    expect(agentLook.stderr).toContain('ENOENT');

    const logs = await kube.kubectlOk(['-n', NS, 'logs', 'claude-agent', '-c', 'auth-shim']);
    const metrics = await kube.kubectlOk([
      'get',
      '--raw',
      `/api/v1/namespaces/${NS}/pods/claude-agent:9464/proxy/metrics`,
    ]);
    expect(metrics).toContain('auth_shim_federation');
    for (const secret of [jwt, ...endpoint.issued.map((t) => t.token)]) {
      expect(logs.includes(secret), 'a token in the sidecar log').toBe(false);
      expect(metrics.includes(secret), 'a token in /metrics').toBe(false);
    }
  }, 300_000);
});

describe('a pod whose ServiceAccount the rule does not name', () => {
  it('is refused at the token endpoint: sidecar stays unready, agent never starts, log names the error', async () => {
    const before = endpoint.exchanges.length;
    await kube.kubectlOk(['apply', '-f', '-'], JSON.stringify(agentPod('other-agent', OTHER_SA)));
    const refused = await waitFor(
      'a refused exchange from other-agent',
      async () =>
        endpoint.exchanges
          .slice(before)
          .find((x) => !x.accepted && x.sub === `system:serviceaccount:${NS}:${OTHER_SA}`),
      600_000,
      1000,
    );
    expect(refused.status).toBeGreaterThanOrEqual(400);
    const p = await podJson(NS, 'other-agent');
    const status = p['status'] as {
      initContainerStatuses?: Array<{ name: string; ready: boolean }>;
      containerStatuses?: Array<{ name: string; state: Record<string, unknown> }>;
    };
    expect(status.initContainerStatuses?.find((c) => c.name === 'auth-shim')?.ready).toBe(false);
    expect(Object.keys(status.containerStatuses?.find((c) => c.name === 'agent')?.state ?? {})).toEqual(['waiting']);
    const logs = await waitFor(
      'the refusal in the sidecar log',
      async () => {
        const l = await kube.kubectl(['-n', NS, 'logs', 'other-agent', '-c', 'auth-shim']);
        return l.stdout.includes(refused.error ?? '\u0000') ? l.stdout : undefined;
      },
      120_000,
      1000,
    );
    expect(logs).toContain(refused.error);
  }, 900_000);
});
