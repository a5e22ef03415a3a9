import { readdirSync } from 'node:fs';
import { readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse, stringify } from 'yaml';
import { REPO_ROOT } from '../controlplane/cluster.js';
import { apply, getJson, installPublishedCrds, type Obj } from '../controlplane/kube.js';
import { AGENT_CHART, inject, injectorEnv } from '../deploy/_inject.js';
import {
  condition,
  logTail,
  pushRolloutAnnotation,
  startFluxControllers,
  startGitServer,
  startHelmRepo,
  stopControllers,
  type GitServer,
  type HelmRepo,
  type RunningController,
  loopbackHelmRepositoryPatch,
} from '../flux/flux.js';
import { helm } from '../helpers/helm.js';
import {
  AGENT_IMAGE,
  createNamespace,
  deleteNamespaces,
  KUBECONFIG,
  kube,
  requireCluster,
  SHIM_IMAGE,
  tmp,
  waitFor,
} from './_cluster.js';

/*
 * deploy/ reconciled by the real Flux controllers (test/flux: source-, kustomize- and
 * helm-controller as processes with the test cluster's kubeconfig) on the one-node cluster: a Git
 * repository on loopback holds deploy/agent-chart as shipped, a Flux Kustomization applies it into
 * this test's namespace (`targetNamespace`), the third-party chart (test/deploy/fixtures/agent-chart)
 * comes from a Helm HTTP repository on loopback, and helm-controller runs the HelmRelease's
 * kustomize post-renderer. The Deployment's pod, as the API server stored it, must be what
 * `auth-shim inject --all` makes of the same rendering (both defaulted by the same API server).
 *
 * Changed from deploy/, by patches in the Flux Kustomization (the files stay as shipped): the
 * chart repository's URL, and the two images — no registry is reachable, so the agent image is
 * the one built here and the post-renderer's sidecar image is `localhost/auth-shim:e2e` (the same
 * image `auth-shim inject` is told to use); and Helm's wait for ready workloads is off
 * (`install.disableWait`): the agent chart's init container runs a program the test's agent image
 * does not have, so the pod is compared, not run to Ready.
 *
 * deploy/flux/auth-shim is then reconciled for real, with Helm's wait and `helm test` on as shipped:
 * patched for the chart repository URL, the image built here, and — because the cluster is shared
 * with other test files — its own release name and namespace and a namespaceSelector that limits
 * the webhook to this test's agent namespace.
 */

const NS = 'auth-shim-flux-agents';
const SHIM_NS = 'auth-shim-flux-system';
const RELEASE = 'auth-shim-flux';
const FLUX_NS = 'flux-system';
const DEPLOY_PATH = 'deploy/agent-chart';
const SHIM_PATH = 'deploy/flux/auth-shim';
const SELECTOR = 'app.kubernetes.io/instance=claude-agent';
const SHIPPED_SIDECAR_IMAGE = 'ghcr.io/auth-shim/auth-shim:0.1.0';

let dir: string;
let repo: HelmRepo;
let shimRepo: HelmRepo;
let git: GitServer;
const controllers: Array<RunningController | undefined> = [];
let crdsAdded: string[] = [];
let fluxNsCreated = false;
let clusterUp = false;

async function diagnostics(ns = NS): Promise<string> {
  const flux = await kube.kubectl(['get', 'gitrepository,kustomization', '-n', FLUX_NS, '-o', 'yaml']);
  const hr = await kube.kubectl(['get', 'helmrelease,helmchart,helmrepository', '-n', ns, '-o', 'yaml']);
  return [
    flux.stdout.slice(-4000),
    hr.stdout.slice(-6000),
    ...(await Promise.all(controllers.map((c) => logTail(c)))),
    `repository served: ${repo?.served.join(', ')}`,
  ].join('\n');
}

/** The shipped HelmRelease (from kustomize, as Flux builds it). */
async function shippedRelease(): Promise<
  Obj & { spec: { postRenderers: Array<{ kustomize: { patches: Array<{ patch: string }> } }> } }
> {
  const docs = (await kube.kubectlOk(['kustomize', DEPLOY_PATH])).split(/^---$/m).map((d) => parse(d) as Obj);
  const hr = docs.find((d) => d['kind'] === 'HelmRelease');
  if (hr === undefined) throw new Error(`${DEPLOY_PATH} has no HelmRelease`);
  return hr as Obj & { spec: { postRenderers: Array<{ kustomize: { patches: Array<{ patch: string }> } }> } };
}

beforeAll(async () => {
  await requireCluster();
  clusterUp = true;
  dir = await tmp('auth-shim-flux-cluster-');
  await deleteNamespaces(NS, SHIM_NS);
  const before = new Set((await kube.kubectlOk(['get', 'crd', '-o', 'name'])).trim().split('\n'));
  crdsAdded = (await installPublishedCrds(kube)).filter((n) => !before.has(n));
  await createNamespace(NS);
  await createNamespace(SHIM_NS);
  if ((await kube.kubectl(['get', 'namespace', FLUX_NS])).code !== 0) {
    await createNamespace(FLUX_NS);
    fluxNsCreated = true;
  }
  repo = await startHelmRepo(join(dir, 'agent'), AGENT_CHART);
  shimRepo = await startHelmRepo(join(dir, 'shim'));
  const files = Object.fromEntries(
    [DEPLOY_PATH, SHIM_PATH].flatMap((d) =>
      readdirSync(join(REPO_ROOT, d)).map((f) => [`${d}/${f}`, join(REPO_ROOT, d, f)]),
    ),
  );
  git = await startGitServer(dir, files);
  controllers.push(...(await startFluxControllers({ kubeconfig: KUBECONFIG }, dir)));
}, 900_000);

afterAll(async () => {
  if (clusterUp) {
    // With the controllers still running, so their finalizers are honoured (helm uninstall, pruning).
    await kube.kubectl([
      'delete',
      'kustomization',
      'claude-agent',
      'auth-shim',
      '-n',
      FLUX_NS,
      '--ignore-not-found',
      '--wait=true',
      '--timeout=300s',
    ]);
    for (const ns of [NS, SHIM_NS])
      await kube.kubectl([
        'delete',
        'helmrelease,helmrepository',
        '--all',
        '-n',
        ns,
        '--ignore-not-found',
        '--wait=true',
        '--timeout=300s',
      ]);
    await kube.kubectl([
      'delete',
      'gitrepository',
      'deploy',
      '-n',
      FLUX_NS,
      '--ignore-not-found',
      '--wait=true',
      '--timeout=120s',
    ]);
  }
  await stopControllers(controllers);
  await repo?.close();
  await shimRepo?.close();
  await git?.close();
  if (clusterUp) {
    await deleteNamespaces(NS, SHIM_NS, ...(fluxNsCreated ? [FLUX_NS] : []));
    if (crdsAdded.length > 0)
      await kube.kubectl(['delete', ...crdsAdded, '--ignore-not-found', '--wait=true', '--timeout=120s']);
  }
  if (dir !== undefined) await rm(dir, { recursive: true, force: true });
}, 900_000);

/** The pod spec fields injection decides, without what the API server adds per pod (the token volume's random name). */
function injectedParts(pod: Obj): Obj {
  const spec = pod.spec as {
    initContainers?: Obj[];
    containers: Obj[];
    volumes?: Array<{ name: string }>;
    serviceAccountName?: string;
    securityContext?: Obj;
  };
  const api = (n: string) => n.startsWith('kube-api-access-');
  const container = (c: Obj) => ({
    ...c,
    volumeMounts: ((c['volumeMounts'] ?? []) as Array<{ name: string }>).filter((m) => !api(m.name)),
  });
  return {
    annotations: pod.metadata?.['annotations'],
    initContainers: (spec.initContainers ?? []).map(container),
    containers: spec.containers.map(container),
    volumes: (spec.volumes ?? []).filter((v) => !api(v.name)),
    serviceAccountName: spec.serviceAccountName,
    securityContext: spec.securityContext,
  };
}

function gitRepository(): Obj {
  return {
    apiVersion: 'source.toolkit.fluxcd.io/v1',
    kind: 'GitRepository',
    metadata: { name: 'deploy', namespace: FLUX_NS },
    spec: { interval: '10m', url: git.url, ref: { branch: git.branch } },
  };
}

function kustomizationSpec(path: string, targetNamespace: string): Obj {
  return {
    interval: '10m',
    path: `./${path}`,
    prune: true,
    targetNamespace,
    sourceRef: { kind: 'GitRepository', name: 'deploy' },
  };
}

async function readyRelease(name: string, ns: string, generation = 1): Promise<Obj> {
  try {
    return await waitFor(
      `HelmRelease ${name} Ready`,
      async () => {
        const o = await getJson(kube, ['helmrelease', name, '-n', ns]).catch(() => undefined);
        const observed = (o?.['status'] as { observedGeneration?: number } | undefined)?.observedGeneration ?? 0;
        return o !== undefined && condition(o, 'Ready')?.status === 'True' && observed >= generation ? o : undefined;
      },
      600_000,
      500,
    );
  } catch (err) {
    throw new Error(`${(err as Error).message}\n${await diagnostics(ns)}`);
  }
}

describe('deploy/agent-chart reconciled by Flux on the test cluster', () => {
  it('HelmRelease with a post-renderer patch gets Ready; its pod is what `auth-shim inject` makes of it', async () => {
    const shipped = await shippedRelease();
    const patch = shipped.spec.postRenderers[0]?.kustomize.patches[0]?.patch ?? '';
    expect(patch).toContain(SHIPPED_SIDECAR_IMAGE);
    await apply(kube, [
      gitRepository(),
      {
        apiVersion: 'kustomize.toolkit.fluxcd.io/v1',
        kind: 'Kustomization',
        metadata: { name: 'claude-agent', namespace: FLUX_NS },
        spec: {
          ...kustomizationSpec(DEPLOY_PATH, NS),
          patches: [
            {
              target: { kind: 'HelmRepository', name: 'claude-agent' },
              patch: JSON.stringify([{ op: 'replace', path: '/spec/url', value: repo.url }]),
            },
            {
              target: { kind: 'HelmRelease', name: 'claude-agent' },
              patch: JSON.stringify([
                { op: 'replace', path: '/spec/values/image', value: AGENT_IMAGE },
                { op: 'add', path: '/spec/install', value: { disableWait: true } },
                {
                  op: 'replace',
                  path: '/spec/postRenderers/0/kustomize/patches/0/patch',
                  value: patch.replaceAll(SHIPPED_SIDECAR_IMAGE, SHIM_IMAGE),
                },
              ]),
            },
          ],
        },
      },
    ]);
    const hr = await readyRelease('claude-agent', NS);
    expect(condition(hr, 'Released')?.reason).toBe('InstallSucceeded');
    expect(repo.served).toEqual(expect.arrayContaining(['GET /index.yaml 200', 'GET /claude-agent-1.4.0.tgz 200']));

    // The real pod the Deployment's ReplicaSet created.
    const pod = await waitFor(
      'the claude-agent pod',
      async () => {
        const items = ((await getJson(kube, ['pods', '-n', NS, '-l', SELECTOR])).items ?? []) as Obj[];
        return items.length === 1 ? items[0] : undefined;
      },
      120_000,
      500,
    );

    // `auth-shim inject` of the same rendering (release name, namespace, values as Flux used them),
    // configured like the webhook deploy/flux/auth-shim installs, with the image built here.
    const values = { ...(hr.spec?.['values'] as Obj) };
    expect(values['image']).toBe(AGENT_IMAGE);
    await writeFile(join(dir, 'values.yaml'), stringify(values));
    const rendered = await helm([
      'template',
      'claude-agent',
      AGENT_CHART,
      '--namespace',
      NS,
      '-f',
      join(dir, 'values.yaml'),
    ]);
    expect(rendered.code, rendered.stderr).toBe(0);
    await writeFile(join(dir, 'rendered.yaml'), rendered.stdout);
    const injected = (
      await inject(join(dir, 'rendered.yaml'), { ...(await injectorEnv(dir)), AUTH_SHIM_SIDECAR_IMAGE: SHIM_IMAGE })
    ).find((o) => o.kind === 'Deployment');
    const template = (injected?.['spec'] as { template: { metadata: Obj; spec: Obj } } | undefined)?.template;
    if (template === undefined) throw new Error('auth-shim inject wrote no Deployment');
    // Defaulted by the same API server, without being stored.
    const expected = JSON.parse(
      await kube.kubectlOk(
        ['create', '--dry-run=server', '-o', 'json', '-f', '-'],
        JSON.stringify({
          apiVersion: 'v1',
          kind: 'Pod',
          metadata: { ...template.metadata, name: 'inject-output', namespace: NS },
          spec: template.spec,
        }),
      ),
    ) as Obj;

    const real = injectedParts(pod);
    expect(real).toEqual(injectedParts(expected));
    // The comparison has teeth: the sidecar is there, first, with its mounts and the agent's env.
    const init = real['initContainers'] as Array<{ name: string; image: string; restartPolicy?: string }>;
    expect(init.map((c) => c.name)).toEqual(['auth-shim', 'prepare-workspace']);
    expect(init[0]).toMatchObject({ image: SHIM_IMAGE, restartPolicy: 'Always' });
    const agentEnv = (
      (real['containers'] as Array<{ env: Array<{ name: string; value?: string }> }>)[0]?.env ?? []
    ).map((e) => e.name);
    expect(agentEnv).toEqual(expect.arrayContaining(['ANTHROPIC_BASE_URL', 'ANTHROPIC_API_KEY']));
    expect((real['volumes'] as Array<{ name: string }>).map((v) => v.name)).toEqual(
      expect.arrayContaining(['auth-shim-oauth-token', 'auth-shim-litellm-key']),
    );
    // What Flux installed is the post-rendered chart, not a copy of deploy/: the file still says the shipped image.
    expect(await readFile(join(REPO_ROOT, DEPLOY_PATH, 'helmrelease.yaml'), 'utf8')).toContain(SHIPPED_SIDECAR_IMAGE);
  }, 900_000);
});

describe('deploy/flux/auth-shim reconciled by Flux on the test cluster', () => {
  it('HelmRelease gets Ready (Helm waits for webhook pods, `helm test` passes); its webhook injects', async () => {
    await apply(kube, [
      gitRepository(),
      {
        apiVersion: 'kustomize.toolkit.fluxcd.io/v1',
        kind: 'Kustomization',
        metadata: { name: 'auth-shim', namespace: FLUX_NS },
        spec: {
          ...kustomizationSpec(SHIM_PATH, SHIM_NS),
          patches: [
            // The shipped Namespace is auth-shim-system, which other test files use.
            {
              target: { kind: 'Namespace', name: 'auth-shim-system' },
              patch: JSON.stringify([{ op: 'replace', path: '/metadata/name', value: SHIM_NS }]),
            },
            loopbackHelmRepositoryPatch(shimRepo.url),
            {
              target: { kind: 'HelmRelease', name: 'auth-shim' },
              patch: JSON.stringify([
                { op: 'add', path: '/spec/releaseName', value: RELEASE },
                {
                  op: 'add',
                  path: '/spec/values/image',
                  value: { repository: SHIM_IMAGE.split(':')[0], tag: SHIM_IMAGE.split(':')[1], pullPolicy: 'Never' },
                },
                { op: 'add', path: '/spec/values/sidecar/pullPolicy', value: 'Never' },
                {
                  op: 'add',
                  path: '/spec/values/webhook',
                  value: { namespaceSelector: [{ key: 'kubernetes.io/metadata.name', operator: 'In', values: [NS] }] },
                },
              ]),
            },
          ],
        },
      },
    ]);
    const hr = await readyRelease('auth-shim', SHIM_NS);
    // Install waited for the Deployment (Helm's wait is on), then `helm test` ran (test.enable as shipped).
    expect(hr.spec?.['install']).not.toHaveProperty('disableWait');
    expect(condition(hr, 'Released')?.reason).toBe('InstallSucceeded');
    expect(condition(hr, 'TestSuccess')?.status).toBe('True');
    expect(shimRepo.served).toEqual(expect.arrayContaining(['GET /index.yaml 200', 'GET /auth-shim-0.1.0.tgz 200']));
    const deployment = (
      (await getJson(kube, ['deployment', '-n', SHIM_NS, '-l', `app.kubernetes.io/instance=${RELEASE}`])).items as Obj[]
    )[0] as Obj;
    const status = deployment['status'] as { replicas?: number; readyReplicas?: number };
    expect(status.readyReplicas).toBe(status.replicas);
    expect(status.replicas).toBeGreaterThan(0);

    // The webhook it runs mutates an annotated pod in the namespace it was limited to (server-side dry-run:
    // nothing is stored).
    const pod = {
      apiVersion: 'v1',
      kind: 'Pod',
      metadata: { name: 'annotated', namespace: NS, annotations: { 'auth-shim.io/inject': 'true' } },
      spec: { containers: [{ name: 'agent', image: AGENT_IMAGE, imagePullPolicy: 'Never' }] },
    };
    const mutated = JSON.parse(
      await kube.kubectlOk(['create', '--dry-run=server', '-o', 'json', '-f', '-'], JSON.stringify(pod)),
    ) as Obj;
    const init = (mutated.spec?.['initContainers'] ?? []) as Array<{ name: string; image: string }>;
    expect(init.map((c) => c.name)).toEqual(['auth-shim']);
    expect(init[0]?.image).toBe(SHIM_IMAGE);
  }, 900_000);

  it('a pushed change of spec.values upgrades the release, Helm waiting for the new webhook pods', async () => {
    const before = await getJson(kube, ['helmrelease', 'auth-shim', '-n', SHIM_NS]);
    const generation = (before.metadata?.['generation'] as number) + 1;
    await pushRolloutAnnotation(kube, git, `${SHIM_PATH}/helmrelease.yaml`, 'deploy');
    const hr = await readyRelease('auth-shim', SHIM_NS, generation);
    expect(condition(hr, 'Released')?.reason).toBe('UpgradeSucceeded');
    expect(((hr['status'] as { history?: Array<{ version: number; status: string }> }).history ?? [])[0]).toMatchObject(
      { version: 2, status: 'deployed' },
    );
    // Helm's wait: every replica the Deployment now has runs the new template.
    const deployment = (
      (await getJson(kube, ['deployment', '-n', SHIM_NS, '-l', `app.kubernetes.io/instance=${RELEASE}`])).items as Obj[]
    )[0] as Obj;
    expect(
      ((deployment.spec?.['template'] as Obj).metadata as { annotations?: Record<string, string> }).annotations?.[
        'example.com/rollout'
      ],
    ).toBe('2');
    const status = deployment['status'] as { replicas?: number; updatedReplicas?: number; readyReplicas?: number };
    expect(status.updatedReplicas).toBe(status.replicas);
    expect(status.readyReplicas).toBe(status.replicas);
  }, 900_000);
});
