import { readdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import jsonpatch from 'fast-json-patch';
import { stringify } from 'yaml';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli, type ChildShim } from '../helpers/child.js';
import { PROTECTED_NAMESPACES } from '../../src/injector/mutate.js';
import { GOLDEN_ENV } from '../injector/_helpers.js';
import {
  createNamespace,
  DEFAULT_CONTROLLERS,
  freePort,
  issueTestCert,
  startControlPlane,
  type ControlPlane,
} from './cluster.js';
import {
  apply,
  create,
  createOk,
  expectGoldenYaml,
  getJson,
  listening,
  normalise,
  notContained,
  stopChild,
  waitFor,
  type Obj,
} from './kube.js';

// Real admission: kube-apiserver calls a locally running `auth-shim webhook` over TLS
// (`clientConfig.url`, since there is no Service network here) and then defaults, validates
// (native sidecars included), runs Pod Security and stores the pod. Deployments and Jobs get their
// Pods from the real kube-controller-manager. Stored pods are compared with golden files in
// test/controlplane/golden (regenerate with UPDATE_GOLDEN=1) and with the injector's own golden
// AdmissionReviews in test/injector/golden.

const INJECTOR_GOLDEN = join(import.meta.dirname, '..', 'injector', 'golden');
const GOLDEN = join(import.meta.dirname, 'golden');
const SIDECAR = 'auth-shim';
const TOKEN_VOLUME = (name: string) => name.startsWith('kube-api-access-');

let cp: ControlPlane;
let webhook: ChildShim | undefined;
let webhookPort: number;
let caBundle: string;
let tls: { cert: string; key: string };

function startWebhook(): ChildShim {
  return runCli(['webhook'], {
    ...GOLDEN_ENV,
    AUTH_SHIM_WEBHOOK_LISTEN: `127.0.0.1:${webhookPort}`,
    AUTH_SHIM_ADMIN_LISTEN: '127.0.0.1:0',
    AUTH_SHIM_WEBHOOK_TLS_CERT_FILE: tls.cert,
    AUTH_SHIM_WEBHOOK_TLS_KEY_FILE: tls.key,
    AUTH_SHIM_LOG_LEVEL: 'info',
  });
}

/** The namespaces the selectors of docs/INJECTION.md (and the chart) keep away from the webhook. */
const EXCLUDED = new Set([...PROTECTED_NAMESPACES, 'auth-shim-system']);

type FailurePolicy = 'Fail' | 'Ignore';

/** docs/INJECTION.md's two webhooks, with `url` instead of `service` (no Service network here). */
function webhookConfiguration(name: string, opts: { failurePolicy?: FailurePolicy; operations?: string[] } = {}): Obj {
  const entry = (hook: string, path: string, operator: 'In' | 'NotIn') => ({
    name: hook,
    clientConfig: { url: `https://127.0.0.1:${webhookPort}${path}`, caBundle },
    namespaceSelector: {
      matchExpressions: [
        { key: 'auth-shim.io/inject', operator, values: ['enabled'] },
        { key: 'kubernetes.io/metadata.name', operator: 'NotIn', values: [...EXCLUDED] },
      ],
    },
    rules: [{ operations: opts.operations ?? ['CREATE'], apiGroups: [''], apiVersions: ['v1'], resources: ['pods'] }],
    admissionReviewVersions: ['v1'],
    sideEffects: 'None',
    failurePolicy: opts.failurePolicy ?? 'Fail',
    timeoutSeconds: 10,
    reinvocationPolicy: 'IfNeeded',
  });
  return {
    apiVersion: 'admissionregistration.k8s.io/v1',
    kind: 'MutatingWebhookConfiguration',
    metadata: { name },
    webhooks: [
      entry('namespace.auth-shim.io', '/mutate/namespace-enabled', 'In'),
      entry('object.auth-shim.io', '/mutate', 'NotIn'),
    ],
  };
}

const RESTRICTED = {
  'pod-security.kubernetes.io/enforce': 'restricted',
  'pod-security.kubernetes.io/enforce-version': 'latest',
};

/** An agent that passes the restricted Pod Security Standard on its own. */
function agentPod(
  name: string,
  namespace: string,
  annotations: Record<string, string> = {},
  restartPolicy = 'Always',
): Obj {
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name, namespace, labels: { app: name }, annotations },
    spec: { restartPolicy, ...agentSpec() },
  };
}

function agentSpec(): Record<string, unknown> {
  return {
    securityContext: { runAsNonRoot: true, runAsUser: 1000, seccompProfile: { type: 'RuntimeDefault' } },
    containers: [
      {
        name: 'agent',
        image: 'ghcr.io/example/agent:1.0',
        args: ['claude', '-p', 'hello'],
        securityContext: { allowPrivilegeEscalation: false, capabilities: { drop: ['ALL'] } },
      },
    ],
  };
}

type Container = { name: string; restartPolicy?: string; volumeMounts?: Array<{ name: string; mountPath: string }> };
const initContainers = (pod: Obj) => (pod.spec?.['initContainers'] ?? []) as Container[];
const containers = (pod: Obj) => (pod.spec?.['containers'] ?? []) as Container[];
const sidecars = (pod: Obj) => [...initContainers(pod), ...containers(pod)].filter((c) => c.name === SIDECAR);

beforeAll(async () => {
  // resourcequota: quota admission refuses pods until the controller has computed the quota's status.
  cp = await startControlPlane({ controllers: [...DEFAULT_CONTROLLERS, 'resourcequota'] });
  process.stderr.write(`[controlplane] admission: etcd + kube-apiserver ready in ${cp.startMs} ms\n`);
  tls = await issueTestCert(cp.dir, 'webhook', ['IP:127.0.0.1']);
  caBundle = Buffer.from(await readFile(cp.caFile)).toString('base64');
  webhookPort = await freePort();
  webhook = startWebhook();
  await listening(webhook, 'auth-shim webhook');
  await createNamespace(cp, 'ai');
  await createNamespace(cp, 'ai-enabled', { 'auth-shim.io/inject': 'enabled' });
  await createNamespace(cp, 'restricted', RESTRICTED);
  await createNamespace(cp, 'auth-shim-system');
  await apply(cp, [webhookConfiguration('auth-shim')]);
}, 120_000);

afterAll(async () => {
  await stopChild(webhook);
  await cp?.stop();
}, 60_000);

interface GoldenCase {
  readonly name: string;
  readonly request: { operation: string; kind: { kind: string }; namespace: string; dryRun?: boolean; object: Obj };
  readonly response: { allowed: boolean; warnings?: string[]; status?: { message: string } };
  readonly patch: jsonpatch.Operation[] | null;
}

const goldenCases: GoldenCase[] = await Promise.all(
  (await readdir(INJECTOR_GOLDEN))
    .filter((f) => f.endsWith('.in.json'))
    .sort()
    .map(async (f) => {
      const name = f.replace(/\.in\.json$/, '');
      const input = JSON.parse(await readFile(join(INJECTOR_GOLDEN, f), 'utf8')) as { request: GoldenCase['request'] };
      const out = JSON.parse(await readFile(join(INJECTOR_GOLDEN, `${name}.out.json`), 'utf8')) as Pick<
        GoldenCase,
        'response' | 'patch'
      >;
      return { name, request: input.request, response: out.response, patch: out.patch };
    }),
);
const podCreates = goldenCases.filter((c) => c.request.operation === 'CREATE' && c.request.kind.kind === 'Pod');

/** Namespaces the API server never sends to the webhook (the selectors exclude them). */

describe("the injector's golden AdmissionReviews, admitted by a real kube-apiserver", () => {
  it('covers every CREATE-Pod golden case (the others are tested below: UPDATE, non-Pod)', () => {
    expect(podCreates.length).toBeGreaterThanOrEqual(20);
    expect(
      goldenCases
        .filter((c) => !podCreates.includes(c))
        .map((c) => c.name)
        .sort(),
    ).toEqual(['non-pod-object', 'update-operation']);
  });

  it.each(podCreates.map((c) => [c.name, c] as const))('%s', async (name, c) => {
    const namespace = name.startsWith('ns-enabled-') ? 'ai-enabled' : c.request.namespace;
    const obj = structuredClone(c.request.object);
    const meta = { ...(obj.metadata ?? {}) };
    delete meta['name'];
    obj.metadata = { ...meta, generateName: `${name}-`, namespace };
    const r = await create(cp, obj, c.request.dryRun === true ? ['--dry-run=server'] : []);

    if (!c.response.allowed) {
      // The webhook's reason reaches the pod's author verbatim.
      expect(r.code).not.toBe(0);
      const hook = namespace === 'ai-enabled' ? 'namespace.auth-shim.io' : 'object.auth-shim.io';
      expect(r.stderr).toContain(`admission webhook "${hook}" denied the request: ${c.response.status?.message ?? ''}`);
      return;
    }
    if (r.stored === undefined) throw new Error(`the API server refused a pod the injector allowed:\n${r.stderr}`);
    const stored = r.stored;

    if (EXCLUDED.has(namespace)) {
      // Never sent to the webhook, so none of its warnings either: the selectors did the work.
      expect(r.warnings).toEqual([]);
    } else {
      for (const w of c.response.warnings ?? []) expect(r.warnings).toContain(w);
    }

    const expected = (
      c.patch === null || EXCLUDED.has(namespace)
        ? c.request.object
        : jsonpatch.applyPatch(structuredClone(c.request.object), c.patch, true, false).newDocument
    ) as Obj;
    // Everything the injector wrote is stored as written; the API server only adds defaults
    // (and the ServiceAccount token volume, which its own admission plugin adds).
    expect(notContained(expected.spec, stored.spec, TOKEN_VOLUME, '/spec')).toEqual([]);
    expect(
      notContained(
        expected.metadata?.['annotations'] ?? {},
        stored.metadata?.['annotations'] ?? {},
        () => false,
        '/metadata/annotations',
      ),
    ).toEqual([]);
    const injected = c.patch !== null && !EXCLUDED.has(namespace);
    expect(sidecars(stored).length).toBe(injected || sidecars(c.request.object).length > 0 ? 1 : 0);
  });
});

describe('stored pods (golden files in test/controlplane/golden)', () => {
  it('an annotated pod gets a native sidecar that passes validation and restricted Pod Security', async () => {
    const stored = await createOk(cp, agentPod('agent', 'restricted', { 'auth-shim.io/inject': 'true' }));
    expect(initContainers(stored)[0]).toMatchObject({ name: SIDECAR, restartPolicy: 'Always' });
    // Issue 15: the ServiceAccount admission plugin (which also runs after the webhook) gives the
    // token to every container without a mount at its path: the agent keeps it, the sidecar,
    // which never calls the API, gets the injector's empty directory instead.
    const mounts = (c: Container | undefined) => c?.volumeMounts ?? [];
    const sidecarMounts = mounts(initContainers(stored)[0]);
    expect(sidecarMounts.filter((m) => TOKEN_VOLUME(m.name))).toEqual([]);
    expect(sidecarMounts.find((m) => m.mountPath === '/var/run/secrets/kubernetes.io/serviceaccount')?.name).toBe(
      'auth-shim-no-api-token',
    );
    expect(mounts(containers(stored)[0]).filter((m) => TOKEN_VOLUME(m.name))).toHaveLength(1);
    await expectGoldenYaml(join(GOLDEN, 'pod-annotated-restricted.yaml'), normalise(stored));
  });

  it('a federated pod (issue 17): identity token only in the sidecar, no API token, restricted PSS ok', async () => {
    const stored = await createOk(
      cp,
      agentPod('federated', 'restricted', {
        'auth-shim.io/inject': 'true',
        'auth-shim.io/federation-rule-id': 'fdrl_01HZX3K9Q7ABCDEF',
        'auth-shim.io/organization-id': '4c2d9e1a-7b3f-4e5a-9c1d-2f6b8a0e3d57',
        'auth-shim.io/service-account-id': 'svac_01HZX3K9Q7GHIJKL',
      }),
    );
    const volumes = (stored.spec?.['volumes'] ?? []) as Array<{ name: string; projected?: { sources: Obj[] } }>;
    const identity = volumes.filter((v) => v.projected?.sources.some((s) => 'serviceAccountToken' in s) === true);
    // The API server's own kube-api-access-* volume is projected too; ours is the one with our audience.
    const ours = identity.filter((v) => !TOKEN_VOLUME(v.name));
    expect(ours).toEqual([
      {
        name: 'auth-shim-identity-token',
        projected: {
          defaultMode: 420,
          sources: [
            {
              serviceAccountToken: {
                audience: 'https://api.anthropic.com',
                expirationSeconds: 3600,
                path: 'token',
              },
            },
          ],
        },
      },
    ]);
    const mounting = [...initContainers(stored), ...containers(stored)]
      .filter((c) => (c.volumeMounts ?? []).some((m) => m.name === 'auth-shim-identity-token'))
      .map((c) => c.name);
    expect(mounting).toEqual([SIDECAR]);
    const sidecarMounts = initContainers(stored)[0]?.volumeMounts ?? [];
    expect(sidecarMounts.filter((m) => TOKEN_VOLUME(m.name))).toEqual([]);
    expect(sidecarMounts.find((m) => m.mountPath === '/var/run/secrets/kubernetes.io/serviceaccount')?.name).toBe(
      'auth-shim-no-api-token',
    );
    await expectGoldenYaml(join(GOLDEN, 'pod-federation-restricted.yaml'), normalise(stored));
  });

  it('an unannotated pod is stored as sent (plus defaults)', async () => {
    const stored = await createOk(cp, agentPod('plain', 'restricted'));
    expect(sidecars(stored)).toEqual([]);
    await expectGoldenYaml(join(GOLDEN, 'pod-unannotated.yaml'), normalise(stored));
  });

  it('every pod of an opted-in namespace, except those annotated "false"', async () => {
    const yes = await createOk(cp, agentPod('opted-in', 'ai-enabled'));
    expect(sidecars(yes).length).toBe(1);
    const no = await create(cp, agentPod('opted-out', 'ai-enabled', { 'auth-shim.io/inject': 'false' }));
    expect(no.stored !== undefined && sidecars(no.stored)).toEqual([]);
    expect(no.warnings).toContain('auth-shim: not injected: auth-shim.io/inject is "false"');
  });

  it("a Deployment's pods, created by the ReplicaSet controller, get the sidecar", async () => {
    await apply(cp, [
      {
        apiVersion: 'apps/v1',
        kind: 'Deployment',
        metadata: { name: 'agent', namespace: 'restricted' },
        spec: {
          replicas: 1,
          selector: { matchLabels: { app: 'agent-deploy' } },
          template: {
            metadata: { labels: { app: 'agent-deploy' }, annotations: { 'auth-shim.io/inject': 'true' } },
            spec: agentSpec(),
          },
        },
      },
    ]);
    const pod = await waitFor(
      'a pod of Deployment agent',
      async () =>
        ((await getJson(cp, ['pods', '-n', 'restricted', '-l', 'app=agent-deploy'])).items as Obj[] | undefined)?.[0],
    );
    expect(initContainers(pod)[0]).toMatchObject({ name: SIDECAR, restartPolicy: 'Always' });
    await expectGoldenYaml(join(GOLDEN, 'pod-of-deployment.yaml'), normalise(pod));
  });

  it("a Job's pod gets the native sidecar, accepted in a restartPolicy: Never pod", async () => {
    await apply(cp, [
      {
        apiVersion: 'batch/v1',
        kind: 'Job',
        metadata: { name: 'agent-run', namespace: 'restricted' },
        spec: {
          backoffLimit: 0,
          template: {
            metadata: { labels: { app: 'agent-job' }, annotations: { 'auth-shim.io/inject': 'true' } },
            spec: { restartPolicy: 'Never', ...agentSpec() },
          },
        },
      },
    ]);
    const pod = await waitFor(
      'the pod of Job agent-run',
      async () =>
        ((await getJson(cp, ['pods', '-n', 'restricted', '-l', 'app=agent-job'])).items as Obj[] | undefined)?.[0],
    );
    expect(initContainers(pod)[0]).toMatchObject({ name: SIDECAR, restartPolicy: 'Always' });
    await expectGoldenYaml(join(GOLDEN, 'pod-of-job.yaml'), normalise(pod));
  });

  it('a classic sidecar in a Job-style pod is injected with a warning the author sees', async () => {
    const r = await create(
      cp,
      agentPod('classic', 'ai', { 'auth-shim.io/inject': 'true', 'auth-shim.io/native-sidecar': 'false' }, 'Never'),
    );
    expect(r.stored !== undefined && containers(r.stored).map((c) => c.name)).toEqual(['agent', SIDECAR]);
    expect(r.warnings.join('\n')).toMatch(/classic sidecar in a pod with restartPolicy Never/);
  });
});

describe('namespace policies the sidecar must live with', () => {
  it("a LimitRange's defaults apply to the sidecar too (in-tree admission runs again after the webhook)", async () => {
    await createNamespace(cp, 'limited');
    await apply(cp, [
      {
        apiVersion: 'v1',
        kind: 'LimitRange',
        metadata: { name: 'defaults', namespace: 'limited' },
        spec: {
          limits: [
            {
              type: 'Container',
              default: { cpu: '1', memory: '512Mi' },
              defaultRequest: { cpu: '50m', memory: '64Mi' },
            },
          ],
        },
      },
    ]);
    const pod = await createOk(cp, agentPod('limited', 'limited', { 'auth-shim.io/inject': 'true' }));
    const sidecar = initContainers(pod)[0] as Container & {
      resources: { limits: Record<string, string>; requests: Record<string, string> };
    };
    // The injector's own values win where it set them; the namespace default fills the CPU limit it leaves out.
    expect(sidecar.resources).toEqual({
      limits: { cpu: '1', memory: '256Mi' },
      requests: { cpu: '10m', memory: '96Mi' },
    });
  });

  it('a ResourceQuota on limits.cpu refuses injected pods unless the sidecar has a CPU limit', async () => {
    await createNamespace(cp, 'quota');
    await apply(cp, [
      {
        apiVersion: 'v1',
        kind: 'ResourceQuota',
        metadata: { name: 'compute', namespace: 'quota' },
        spec: { hard: { 'limits.cpu': '4', 'limits.memory': '4Gi', 'requests.cpu': '2', 'requests.memory': '2Gi' } },
      },
    ]);
    await waitFor(
      'quota status',
      async () =>
        ((await getJson(cp, ['resourcequota', 'compute', '-n', 'quota'])).status as { hard?: unknown } | undefined)
          ?.hard,
    );
    const agent = agentPod('quota', 'quota', { 'auth-shim.io/inject': 'true' });
    (agent.spec?.['containers'] as Array<Record<string, unknown>>)[0]!['resources'] = {
      limits: { cpu: '1', memory: '1Gi' },
      requests: { cpu: '100m', memory: '128Mi' },
    };
    const r = await create(cp, agent);
    // AUTH_SHIM_SIDECAR_CPU_LIMIT is unset by default (no CPU limit on a streaming proxy), so a
    // namespace whose quota covers limits.cpu needs it set, or a LimitRange default.
    expect(r.code).not.toBe(0);
    expect(r.stderr).toMatch(/must specify limits\.cpu for: auth-shim/);
  });
});

describe('auth-shim inject output is accepted by the API server', () => {
  it('every workload kind it injects, with --all, passes kubectl apply --dry-run=server', async () => {
    const template = {
      metadata: { labels: { app: 'w' } },
      spec: { containers: [{ name: 'agent', image: 'ghcr.io/example/agent:1.0' }] },
    };
    const jobTemplate = {
      metadata: { labels: { app: 'w' } },
      spec: { restartPolicy: 'Never', containers: [{ name: 'agent', image: 'ghcr.io/example/agent:1.0' }] },
    };
    const selector = { matchLabels: { app: 'w' } };
    const docs = [
      { apiVersion: 'v1', kind: 'Pod', metadata: { name: 'w-pod', namespace: 'ai' }, spec: template.spec },
      {
        apiVersion: 'apps/v1',
        kind: 'Deployment',
        metadata: { name: 'w-deploy', namespace: 'ai' },
        spec: { selector, template },
      },
      {
        apiVersion: 'apps/v1',
        kind: 'StatefulSet',
        metadata: { name: 'w-sts', namespace: 'ai' },
        spec: { selector, serviceName: 'w', template },
      },
      {
        apiVersion: 'apps/v1',
        kind: 'DaemonSet',
        metadata: { name: 'w-ds', namespace: 'ai' },
        spec: { selector, template },
      },
      {
        apiVersion: 'apps/v1',
        kind: 'ReplicaSet',
        metadata: { name: 'w-rs', namespace: 'ai' },
        spec: { selector, template },
      },
      {
        apiVersion: 'batch/v1',
        kind: 'Job',
        metadata: { name: 'w-job', namespace: 'ai' },
        spec: { template: jobTemplate },
      },
      {
        apiVersion: 'batch/v1',
        kind: 'CronJob',
        metadata: { name: 'w-cron', namespace: 'ai' },
        spec: { schedule: '0 * * * *', jobTemplate: { spec: { template: jobTemplate } } },
      },
    ];
    const file = join(cp.dir, 'workloads.yaml');
    await writeFile(file, docs.map((d) => stringify(d)).join('---\n'));
    const inject = runCli(['inject', '--all', file], { ...GOLDEN_ENV });
    const { code } = await inject.exited;
    expect(code, inject.stderr.join('')).toBe(0);
    const out = inject.stdout.join('\n');
    expect(out.match(/name: auth-shim$/gm)?.length ?? 0).toBe(docs.length);
    const r = await cp.kubectl(['apply', '--dry-run=server', '-f', '-'], out);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(r.stdout.trim().split('\n')).toHaveLength(docs.length);
  });
});

describe('updates never inject twice', () => {
  it('labelling and annotating an injected pod keeps one sidecar, also when UPDATE goes to the webhook', async () => {
    await createOk(cp, agentPod('updated', 'ai', { 'auth-shim.io/inject': 'true' }));
    await cp.kubectlOk(['label', 'pod', 'updated', '-n', 'ai', 'round=1']);
    // The injector answers UPDATE with no patch; a patch would be refused (a pod's spec is immutable).
    await apply(cp, [webhookConfiguration('auth-shim-updates', { operations: ['UPDATE'] })]);
    try {
      await cp.kubectlOk(['label', 'pod', 'updated', '-n', 'ai', 'round=2', '--overwrite']);
      await cp.kubectlOk(['annotate', 'pod', 'updated', '-n', 'ai', 'touched=yes']);
      const pod = await getJson(cp, ['pod', 'updated', '-n', 'ai']);
      expect(sidecars(pod).length).toBe(1);
      expect(pod.metadata?.['labels']).toMatchObject({ round: '2' });
    } finally {
      await cp.kubectlOk(['delete', 'mutatingwebhookconfiguration', 'auth-shim-updates']);
    }
  });

  it('the injector registered twice (reinvocation, two configurations) still adds one sidecar', async () => {
    await apply(cp, [webhookConfiguration('auth-shim-twice')]);
    try {
      const pod = await createOk(cp, agentPod('twice', 'ai', { 'auth-shim.io/inject': 'true' }));
      expect(sidecars(pod).length).toBe(1);
    } finally {
      await cp.kubectlOk(['delete', 'mutatingwebhookconfiguration', 'auth-shim-twice']);
    }
  });

  it('a Deployment rollout gives the new pods one sidecar each', async () => {
    await cp.kubectlOk([
      'patch',
      'deployment',
      'agent',
      '-n',
      'restricted',
      '--type=merge',
      '-p',
      JSON.stringify({ spec: { template: { metadata: { annotations: { rollout: '2' } } } } }),
    ]);
    const pods = await waitFor('a pod of the new ReplicaSet', async () => {
      const items = ((await getJson(cp, ['pods', '-n', 'restricted', '-l', 'app=agent-deploy'])).items ?? []) as Obj[];
      return items.some((p) => (p.metadata?.['annotations'] as Record<string, string>)['rollout'] === '2')
        ? items
        : undefined;
    });
    for (const p of pods) expect(sidecars(p).length).toBe(1);
  });
});

describe('failurePolicy with the webhook down', () => {
  it('Fail: pods the webhook would see are refused; excluded namespaces are not affected', async () => {
    await stopChild(webhook);
    webhook = undefined;
    const annotated = await create(cp, agentPod('down-annotated', 'ai', { 'auth-shim.io/inject': 'true' }));
    expect(annotated.code).not.toBe(0);
    expect(annotated.stderr).toMatch(/failed calling webhook "object\.auth-shim\.io"/);
    // Every pod outside the excluded namespaces is sent to the webhook (annotations cannot be
    // selected on), so with Fail an injector outage blocks unannotated pods too.
    const plain = await create(cp, agentPod('down-plain', 'ai'));
    expect(plain.code).not.toBe(0);
    expect(plain.stderr).toMatch(/failed calling webhook "object\.auth-shim\.io"/);
    const system = await create(cp, agentPod('down-system', 'auth-shim-system'));
    expect(system.code).toBe(0);
  });

  it('Ignore: pods are admitted without the sidecar while it is down; injection resumes when it is back', async () => {
    await apply(cp, [webhookConfiguration('auth-shim', { failurePolicy: 'Ignore' })]);
    const pod = await createOk(cp, agentPod('down-ignored', 'ai', { 'auth-shim.io/inject': 'true' }));
    expect(sidecars(pod)).toEqual([]);
    await apply(cp, [webhookConfiguration('auth-shim', { failurePolicy: 'Fail' })]);
    webhook = startWebhook();
    await listening(webhook, 'auth-shim webhook');
    const back = await createOk(cp, agentPod('back', 'ai', { 'auth-shim.io/inject': 'true' }));
    expect(sidecars(back).length).toBe(1);
  });
});

describe('auto certificate mode against the real API server', () => {
  const NS = 'auth-shim-system';
  let auto: ChildShim | undefined;
  let autoPort: number;
  let kubeconfig: string;

  function startAuto(): ChildShim {
    return runCli(['webhook'], {
      ...GOLDEN_ENV,
      KUBECONFIG: kubeconfig,
      AUTH_SHIM_WEBHOOK_TLS_MODE: 'auto',
      AUTH_SHIM_WEBHOOK_LISTEN: `127.0.0.1:${autoPort}`,
      AUTH_SHIM_ADMIN_LISTEN: '127.0.0.1:0',
      AUTH_SHIM_LOG_LEVEL: 'info',
    });
  }

  async function caBundles(): Promise<Array<string | undefined>> {
    const mwc = await getJson(cp, ['mutatingwebhookconfiguration', 'auth-shim']);
    return (mwc['webhooks'] as Array<{ clientConfig: { caBundle?: string } }>).map((w) => w.clientConfig.caBundle);
  }

  afterAll(async () => {
    await stopChild(auto);
  });

  it('creates the Secret, patches caBundle with the RBAC the chart grants; the API server then trusts it', async () => {
    await stopChild(webhook);
    webhook = undefined;
    autoPort = await freePort();
    // A Service the API server can resolve without a Service network: for ExternalName it dials
    // <externalName>:<port> and still verifies the certificate as <service>.<namespace>.svc,
    // exactly the name auto mode issues it for.
    const service = {
      apiVersion: 'v1',
      kind: 'Service',
      metadata: { name: 'auth-shim-webhook', namespace: NS },
      spec: {
        type: 'ExternalName',
        externalName: 'localhost',
        ports: [{ name: 'https', port: autoPort, protocol: 'TCP' }],
      },
    };
    const sa = { apiVersion: 'v1', kind: 'ServiceAccount', metadata: { name: 'auth-shim', namespace: NS } };
    // docs/INJECTION.md and charts/auth-shim/templates/rbac.yaml: get/update on the one Secret,
    // create on Secrets (create cannot be limited by name), get/patch on the one configuration.
    const role = {
      apiVersion: 'rbac.authorization.k8s.io/v1',
      kind: 'Role',
      metadata: { name: 'auth-shim-tls', namespace: NS },
      rules: [
        { apiGroups: [''], resources: ['secrets'], resourceNames: ['auth-shim-webhook-tls'], verbs: ['get', 'update'] },
        { apiGroups: [''], resources: ['secrets'], verbs: ['create'] },
      ],
    };
    const rb = {
      apiVersion: 'rbac.authorization.k8s.io/v1',
      kind: 'RoleBinding',
      metadata: { name: 'auth-shim-tls', namespace: NS },
      roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'Role', name: 'auth-shim-tls' },
      subjects: [{ kind: 'ServiceAccount', name: 'auth-shim', namespace: NS }],
    };
    const cr = {
      apiVersion: 'rbac.authorization.k8s.io/v1',
      kind: 'ClusterRole',
      metadata: { name: 'auth-shim-ca-bundle' },
      rules: [
        {
          apiGroups: ['admissionregistration.k8s.io'],
          resources: ['mutatingwebhookconfigurations'],
          resourceNames: ['auth-shim'],
          verbs: ['get', 'patch'],
        },
      ],
    };
    const crb = {
      apiVersion: 'rbac.authorization.k8s.io/v1',
      kind: 'ClusterRoleBinding',
      metadata: { name: 'auth-shim-ca-bundle' },
      roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name: 'auth-shim-ca-bundle' },
      subjects: [{ kind: 'ServiceAccount', name: 'auth-shim', namespace: NS }],
    };
    const mwc = webhookConfiguration('auth-shim') as { webhooks: Array<{ clientConfig: unknown }> };
    for (const [i, w] of mwc.webhooks.entries()) {
      w.clientConfig = {
        service: {
          name: 'auth-shim-webhook',
          namespace: NS,
          port: autoPort,
          path: i === 0 ? '/mutate/namespace-enabled' : '/mutate',
        },
      };
    }
    await cp.kubectlOk(['delete', 'mutatingwebhookconfiguration', 'auth-shim']);
    await apply(cp, [service, sa, role, rb, cr, crb, mwc]);
    const token = (await cp.kubectlOk(['create', 'token', 'auth-shim', '-n', NS, '--duration=1h'])).trim();
    kubeconfig = await cp.writeKubeconfig('auth-shim-webhook', { token }, NS);

    auto = startAuto();
    await listening(auto, 'auth-shim webhook (auto TLS)');
    const bundles = await waitFor('caBundle on both webhooks', async () => {
      const b = await caBundles();
      return b.every((x) => x !== undefined) ? b : undefined;
    });
    const secret = await getJson(cp, ['secret', 'auth-shim-webhook-tls', '-n', NS]);
    expect(secret['type']).toBe('kubernetes.io/tls');
    const data = secret['data'] as Record<string, string>;
    expect(Object.keys(data).sort()).toEqual(['ca.crt', 'ca.key', 'tls.crt', 'tls.key']);
    expect(bundles).toEqual([data['ca.crt'], data['ca.crt']]);

    const pod = await createOk(cp, agentPod('auto-tls', 'ai', { 'auth-shim.io/inject': 'true' }));
    expect(sidecars(pod).length).toBe(1);
  });

  it('a restarted webhook reuses the stored certificate: caBundle unchanged, injection continues', async () => {
    const before = await caBundles();
    const secretBefore = (await getJson(cp, ['secret', 'auth-shim-webhook-tls', '-n', NS]))['data'];
    await stopChild(auto);
    auto = startAuto();
    await listening(auto, 'auth-shim webhook (auto TLS)');
    expect((await getJson(cp, ['secret', 'auth-shim-webhook-tls', '-n', NS]))['data']).toEqual(secretBefore);
    expect(await caBundles()).toEqual(before);
    const pod = await createOk(cp, agentPod('auto-tls-again', 'ai', { 'auth-shim.io/inject': 'true' }));
    expect(sidecars(pod).length).toBe(1);
  });
});
