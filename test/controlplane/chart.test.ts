import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { parse, stringify } from 'yaml';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CI_VALUES, ciValuesPath, NAMESPACE, parseManifests, RELEASE } from '../chart/_render.js';
import { runCli, type ChildShim } from '../helpers/child.js';
import { CHART_DIR, helm, REPO_ROOT } from '../helpers/helm.js';
import { createNamespace, DEFAULT_CONTROLLERS, freePort, startControlPlane, type ControlPlane } from './cluster.js';
import {
  createOk,
  expectGoldenYaml,
  getJson,
  installPublishedCrds,
  listening,
  normalise,
  stopChild,
  waitFor,
  type Obj,
} from './kube.js';

// The chart against a real kube-apiserver: every values file passes server-side validation
// (`kubectl apply --dry-run=server`), and a real `helm install` yields a working injector — the
// webhook runs here as a process with the environment and the ServiceAccount (RBAC) the chart
// gives its Deployment, since there is no kubelet to run the pod.

const GOLDEN = join(import.meta.dirname, 'golden');
const UPSTREAM = 'http://litellm.ai.svc:4000/anthropic';

let cp: ControlPlane;
let webhook: ChildShim | undefined;
let crds: string[] = [];

beforeAll(async () => {
  cp = await startControlPlane({ controllers: DEFAULT_CONTROLLERS });
  process.stderr.write(`[controlplane] chart: etcd + kube-apiserver ready in ${cp.startMs} ms\n`);
  // Restricted Pod Security on the release namespace: the webhook's pods must pass it, and a
  // Deployment template that would not draws a warning, which the dry run below refuses.
  await createNamespace(cp, NAMESPACE, {
    'pod-security.kubernetes.io/enforce': 'restricted',
    'pod-security.kubernetes.io/warn': 'restricted',
  });
  await createNamespace(cp, 'monitoring');
  crds = await installPublishedCrds(cp);
}, 120_000);

afterAll(async () => {
  await stopChild(webhook);
  await cp?.stop();
}, 60_000);

async function helmOk(args: readonly string[]): Promise<string> {
  const r = await helm(args);
  if (r.code !== 0) throw new Error(`helm ${args.join(' ')} exited ${r.code}:\n${r.stderr}`);
  return r.stdout;
}

describe('the published CRDs are what the dry runs below validate against', () => {
  it('every CRD of test/crds/published.txt is established', () => {
    expect(crds).toEqual(
      expect.arrayContaining([
        'customresourcedefinition.apiextensions.k8s.io/helmreleases.helm.toolkit.fluxcd.io',
        'customresourcedefinition.apiextensions.k8s.io/servicemonitors.monitoring.coreos.com',
        'customresourcedefinition.apiextensions.k8s.io/certificates.cert-manager.io',
      ]),
    );
  });

  // A stand-in CRD that accepts any spec passes all of these; the published schemas refuse them.
  it.each([
    [
      'ServiceMonitor with a numeric endpoint port',
      {
        apiVersion: 'monitoring.coreos.com/v1',
        kind: 'ServiceMonitor',
        metadata: { name: 'x', namespace: 'default' },
        spec: { selector: {}, endpoints: [{ port: 9464 }] },
      },
      /port/,
    ],
    [
      'PrometheusRule with a malformed `for`',
      {
        apiVersion: 'monitoring.coreos.com/v1',
        kind: 'PrometheusRule',
        metadata: { name: 'x', namespace: 'default' },
        spec: { groups: [{ name: 'g', rules: [{ alert: 'A', expr: 'up', for: 'ten minutes' }] }] },
      },
      /for/,
    ],
    [
      'Certificate without issuerRef.name',
      {
        apiVersion: 'cert-manager.io/v1',
        kind: 'Certificate',
        metadata: { name: 'x', namespace: 'default' },
        spec: { secretName: 's', issuerRef: {} },
      },
      /issuerRef\.name/,
    ],
    [
      'HelmRelease with a misspelt field',
      {
        apiVersion: 'helm.toolkit.fluxcd.io/v2',
        kind: 'HelmRelease',
        metadata: { name: 'x', namespace: 'default' },
        spec: { interval: '5m', chartRef: { kind: 'OCIRepository', name: 'x' }, valuez: {} },
      },
      /valuez/,
    ],
    [
      'HelmRepository of an unknown type',
      {
        apiVersion: 'source.toolkit.fluxcd.io/v1',
        kind: 'HelmRepository',
        metadata: { name: 'x', namespace: 'default' },
        spec: { url: 'https://example.com', type: 'git' },
      },
      /type/,
    ],
  ])('the API server refuses a %s', async (_name, obj, reason) => {
    const r = await cp.kubectl(['apply', '--dry-run=server', '-f', '-'], JSON.stringify(obj));
    expect(r.code).not.toBe(0);
    expect(r.stderr).toMatch(reason);
  });
});

describe('every chart values file passes kubectl apply --dry-run=server', () => {
  it.each(['values.yaml', ...CI_VALUES])('%s', async (file) => {
    const values = file === 'values.yaml' ? [] : ['-f', ciValuesPath(file)];
    const objects = parseManifests(await helmOk(['template', RELEASE, CHART_DIR, '--namespace', NAMESPACE, ...values]));
    // Namespaces the chart points objects at (a dashboard ConfigMap in `monitoring`) must exist.
    const r = await cp.kubectl(
      ['apply', '--dry-run=server', '-f', '-'],
      JSON.stringify({ apiVersion: 'v1', kind: 'List', items: objects }),
    );
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(r.stdout.trim().split('\n')).toHaveLength(objects.length);
  });
});

const DEPLOY_DIR = process.env['AUTH_SHIM_DEPLOY_DIR'] ?? join(REPO_ROOT, 'deploy');

function yamlFiles(dir: string): string[] {
  if (!existsSync(dir)) return [];
  return readdirSync(dir).flatMap((f) => {
    const p = join(dir, f);
    return statSync(p).isDirectory() ? yamlFiles(p) : /\.ya?ml$/.test(f) ? [p] : [];
  });
}

/** A kustomization's directory and the files it consumes (resources, generator inputs, patches). */
function kustomizations(): Array<{ dir: string; consumes: string[] }> {
  return yamlFiles(DEPLOY_DIR)
    .filter((f) => /(^|\/)kustomization\.ya?ml$/.test(f))
    .map((f) => {
      const dir = join(f, '..');
      const k = parse(readFileSync(f, 'utf8')) as {
        resources?: string[];
        configMapGenerator?: Array<{ files?: string[] }>;
        secretGenerator?: Array<{ files?: string[] }>;
        patches?: Array<{ path?: string }>;
      };
      const inputs = [
        ...(k.resources ?? []),
        ...[...(k.configMapGenerator ?? []), ...(k.secretGenerator ?? [])].flatMap((g) =>
          (g.files ?? []).map((x) => x.replace(/^[^=]*=/, '')),
        ),
        ...(k.patches ?? []).flatMap((x) => (x.path === undefined ? [] : [x.path])),
      ];
      return { dir, consumes: [f, ...inputs.map((r) => join(dir, r))] };
    });
}

/** Creates every namespace the objects live in, as a dry run of a Namespace object creates nothing. */
async function ensureNamespaces(objects: readonly Obj[]): Promise<void> {
  const names = new Set(
    objects.map((o) => o.metadata?.['namespace']).filter((n): n is string => typeof n === 'string'),
  );
  for (const n of names) if ((await cp.kubectl(['get', 'namespace', n])).code !== 0) await createNamespace(cp, n);
}

async function dryRun(objects: readonly Obj[]): Promise<void> {
  await ensureNamespaces(objects);
  const r = await cp.kubectl(
    ['apply', '--dry-run=server', '-f', '-'],
    JSON.stringify({ apiVersion: 'v1', kind: 'List', items: objects }),
  );
  expect(r.stderr).toBe('');
  expect(r.code).toBe(0);
  expect(r.stdout.trim().split('\n')).toHaveLength(objects.length);
}

describe('every manifest in deploy/ passes kubectl apply --dry-run=server', () => {
  const ks = kustomizations();
  const covered = new Set(ks.flatMap((k) => k.consumes));
  const loose = yamlFiles(DEPLOY_DIR).filter((f) => !covered.has(f));

  it('deploy/ exists and every YAML file in it is a kustomization, or consumed by one, or tested on its own', () => {
    expect(ks.length).toBeGreaterThan(0);
    // A file no kustomization uses is dry-run alone below; list them so a new one is noticed.
    expect(loose.map((f) => relative(DEPLOY_DIR, f))).toEqual([]);
  });

  it.each(ks.map((k) => [relative(REPO_ROOT, k.dir), k.dir] as const))('kubectl kustomize %s', async (_name, dir) => {
    const objects = parseManifests(await cp.kubectlOk(['kustomize', dir])) as unknown as Obj[];
    expect(objects.length).toBeGreaterThan(0);
    await dryRun(objects);
  });

  it.each(loose.map((f) => [relative(REPO_ROOT, f), f] as const))('%s', async (_name, file) => {
    const objects = (parseManifests(readFileSync(file, 'utf8')) as unknown as Obj[]).filter(
      (o) => typeof o['apiVersion'] === 'string' && typeof o['kind'] === 'string',
    );
    await dryRun(objects);
  });

  // The values in a HelmRelease of this chart are a values file too: render the chart with them.
  const releases = yamlFiles(DEPLOY_DIR).flatMap((f) =>
    parseManifests(readFileSync(f, 'utf8'))
      .filter(
        (o) =>
          o.kind === 'HelmRelease' &&
          (o['spec'] as { chart?: { spec?: { chart?: string } } }).chart?.spec?.chart === 'auth-shim',
      )
      .map((o) => [`${relative(REPO_ROOT, f)} (spec.values through the chart)`, o] as const),
  );
  it.each(releases)('%s', async (_name, release) => {
    const values = join(await mkdtemp(join(tmpdir(), 'auth-shim-hr-')), 'values.yaml');
    await writeFile(values, stringify((release['spec'] as { values?: unknown }).values ?? {}));
    const namespace = release.metadata.namespace ?? NAMESPACE;
    const objects = parseManifests(
      await helmOk(['template', release.metadata.name, CHART_DIR, '--namespace', namespace, '-f', values]),
    ) as unknown as Obj[];
    await dryRun(objects.map((o) => ({ ...o, metadata: { namespace, ...o.metadata } })));
  });

  // deploy/agent-chart's post-renderer patch, applied as Flux would to the fixture chart that
  // test/deploy renders, must yield a workload the API server accepts.
  const agentChart = join(REPO_ROOT, 'test', 'deploy', 'fixtures', 'agent-chart');
  const postRendered = ks.filter((k) => existsSync(agentChart) && relative(DEPLOY_DIR, k.dir) === 'agent-chart');
  it.each(postRendered.map((k) => [relative(REPO_ROOT, k.dir), k.dir] as const))(
    '%s: the chart with its post-renderer patch',
    async (_name, dir) => {
      const hr = (parseManifests(await cp.kubectlOk(['kustomize', dir])) as unknown as Obj[]).find(
        (o) => o['kind'] === 'HelmRelease',
      ) as Obj & {
        metadata: { name: string; namespace: string };
        spec: { values?: unknown; postRenderers?: Array<{ kustomize?: { patches?: unknown[] } }> };
      };
      const work = await mkdtemp(join(tmpdir(), 'auth-shim-postrender-'));
      await writeFile(join(work, 'values.yaml'), stringify(hr.spec.values ?? {}));
      await writeFile(
        join(work, 'rendered.yaml'),
        await helmOk([
          'template',
          hr.metadata.name,
          agentChart,
          '--namespace',
          hr.metadata.namespace,
          '-f',
          join(work, 'values.yaml'),
        ]),
      );
      const patches = (hr.spec.postRenderers ?? []).flatMap((p) => p.kustomize?.patches ?? []);
      await writeFile(
        join(work, 'kustomization.yaml'),
        stringify({
          apiVersion: 'kustomize.config.k8s.io/v1beta1',
          kind: 'Kustomization',
          resources: ['rendered.yaml'],
          patches,
        }),
      );
      const objects = (parseManifests(await cp.kubectlOk(['kustomize', work])) as unknown as Obj[]).map((o) => ({
        ...o,
        metadata: { namespace: hr.metadata.namespace, ...o.metadata },
      }));
      await dryRun(objects);
    },
  );
});

describe('helm install into the real API server', () => {
  let port: number;
  const setValues = () => [
    '--set',
    `service.port=${port}`,
    '--set',
    `sidecar.upstreamUrl=${UPSTREAM}`,
    '--set',
    'sidecar.secrets.oauthToken.name=claude-oauth',
    '--set',
    'sidecar.secrets.litellmKey.name=litellm-virtual-key',
  ];

  async function caBundles(): Promise<Array<string | undefined>> {
    const mwc = await getJson(cp, ['mutatingwebhookconfiguration', RELEASE]);
    return (mwc['webhooks'] as Array<{ clientConfig: { caBundle?: string } }>).map((w) => w.clientConfig.caBundle);
  }

  /**
   * No Service network here: the chart's Service is swapped for an ExternalName one with the same
   * name and port, which the API server dials at localhost while still verifying the certificate
   * for <service>.<namespace>.svc.
   */
  async function pointServiceAtLocalWebhook(name: string): Promise<void> {
    await cp.kubectlOk(['delete', 'service', name, '-n', NAMESPACE, '--ignore-not-found']);
    await createOk(cp, {
      apiVersion: 'v1',
      kind: 'Service',
      metadata: { name, namespace: NAMESPACE },
      spec: { type: 'ExternalName', externalName: 'localhost', ports: [{ name: 'https', port, protocol: 'TCP' }] },
    });
  }

  it("installs; the webhook, with the Deployment's env and ServiceAccount, patches caBundle and injects", async () => {
    port = await freePort();
    const kc = ['--kubeconfig', cp.kubeconfig];
    await helmOk(['install', RELEASE, CHART_DIR, '--namespace', NAMESPACE, ...kc, ...setValues()]);
    const deployment = await getJson(cp, ['deployment', RELEASE, '-n', NAMESPACE]);
    const podSpec = ((deployment.spec?.['template'] as Obj).spec ?? {}) as {
      serviceAccountName: string;
      containers: Array<{
        name: string;
        env: Array<{ name: string; value?: string; valueFrom?: { fieldRef?: { fieldPath: string } } }>;
      }>;
    };
    const service = (
      (await getJson(cp, ['services', '-n', NAMESPACE, '-l', `app.kubernetes.io/instance=${RELEASE}`])).items as Obj[]
    )[0];
    await pointServiceAtLocalWebhook(service?.metadata?.['name'] as string);

    const env: Record<string, string> = {};
    for (const e of podSpec.containers[0]?.env ?? []) {
      if (e.value !== undefined) env[e.name] = e.value;
      else if (e.valueFrom?.fieldRef?.fieldPath === 'metadata.namespace') env[e.name] = NAMESPACE;
      else
        throw new Error(
          `env ${e.name}: a source this test cannot reproduce outside a pod: ${JSON.stringify(e.valueFrom)}`,
        );
    }
    // The pod's listeners are 0.0.0.0:8443/9464; here they are loopback, on the Service's port.
    env['AUTH_SHIM_WEBHOOK_LISTEN'] = `127.0.0.1:${port}`;
    env['AUTH_SHIM_ADMIN_LISTEN'] = '127.0.0.1:0';
    const token = (
      await cp.kubectlOk(['create', 'token', podSpec.serviceAccountName, '-n', NAMESPACE, '--duration=1h'])
    ).trim();
    env['KUBECONFIG'] = await cp.writeKubeconfig('chart-webhook', { token }, NAMESPACE);
    webhook = runCli(['webhook'], env);
    await listening(webhook, 'auth-shim webhook (chart environment)');

    const bundles = await waitFor('caBundle on every webhook entry', async () => {
      const b = await caBundles();
      return b.length > 0 && b.every((x) => x !== undefined) ? b : undefined;
    });
    expect(new Set(bundles).size).toBe(1);

    await createNamespace(cp, 'agents');
    const pod = await createOk(cp, {
      apiVersion: 'v1',
      kind: 'Pod',
      metadata: { name: 'agent', namespace: 'agents', annotations: { 'auth-shim.io/inject': 'true' } },
      spec: { containers: [{ name: 'agent', image: 'ghcr.io/example/agent:1.0' }] },
    });
    expect((pod.spec?.['initContainers'] as Array<{ name: string }>).map((c) => c.name)).toEqual(['auth-shim']);
    await expectGoldenYaml(join(GOLDEN, 'pod-via-chart.yaml'), normalise(pod));

    await createNamespace(cp, 'agents-enabled', { 'auth-shim.io/inject': 'enabled' });
    const optedIn = await createOk(cp, {
      apiVersion: 'v1',
      kind: 'Pod',
      metadata: { name: 'agent', namespace: 'agents-enabled' },
      spec: { containers: [{ name: 'agent', image: 'ghcr.io/example/agent:1.0' }] },
    });
    expect((optedIn.spec?.['initContainers'] as Array<{ name: string }> | undefined)?.map((c) => c.name)).toEqual([
      'auth-shim',
    ]);

    const plain = await createOk(cp, {
      apiVersion: 'v1',
      kind: 'Pod',
      metadata: { name: 'plain', namespace: 'agents' },
      spec: { containers: [{ name: 'agent', image: 'ghcr.io/example/agent:1.0' }] },
    });
    expect(plain.spec?.['initContainers']).toBeUndefined();
  });

  it("the chart's own webhook pods (created by its Deployment) are never injected", async () => {
    const pods = await waitFor('pods of the webhook Deployment', async () => {
      const items = ((await getJson(cp, ['pods', '-n', NAMESPACE, '-l', `app.kubernetes.io/instance=${RELEASE}`]))
        .items ?? []) as Obj[];
      return items.length > 0 ? items : undefined;
    });
    for (const p of pods) expect(p.spec?.['initContainers']).toBeUndefined();
  });

  it('helm upgrade keeps the caBundle the webhook wrote (the chart leaves it out in auto mode)', async () => {
    const before = await caBundles();
    // The ExternalName stand-in is ours, not Helm's: give the Service back so the upgrade's
    // server-side apply does not conflict with it.
    await cp.kubectlOk(['delete', 'service', 'auth-shim-webhook', '-n', NAMESPACE]);
    await helmOk([
      'upgrade',
      RELEASE,
      CHART_DIR,
      '--namespace',
      NAMESPACE,
      '--kubeconfig',
      cp.kubeconfig,
      ...setValues(),
      '--set-string',
      'podAnnotations.rollout=2',
    ]);
    expect(await caBundles()).toEqual(before);
    expect(before.every((b) => b !== undefined)).toBe(true);
  });

  it('helm uninstall removes what it installed', async () => {
    await stopChild(webhook);
    webhook = undefined;
    await helmOk(['uninstall', RELEASE, '--namespace', NAMESPACE, '--kubeconfig', cp.kubeconfig]);
    const left = await cp.kubectl(['get', 'mutatingwebhookconfiguration', RELEASE]);
    expect(left.code).not.toBe(0);
  });
});
