import { readdirSync } from 'node:fs';
import { readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse, stringify } from 'yaml';
import { REPO_ROOT } from '../controlplane/cluster.js';
import { apply, getJson, installPublishedCrds, type Obj } from '../controlplane/kube.js';
import { AGENT_CHART, inject, injectorEnv } from '../deploy/_inject.js';
import { condition, logTail, startFluxControllers, startGitServer, startHelmRepo, stopControllers, type GitServer, type HelmRepo, type RunningController } from '../flux/flux.js';
import { helm } from '../helpers/helm.js';
import { AGENT_IMAGE, createNamespace, deleteNamespaces, KUBECONFIG, kube, requireCluster, SHIM_IMAGE, tmp, waitFor } from './_cluster.js';

/*
 * deploy/agent-chart reconciled by the real Flux controllers (test/flux: source-, kustomize- and
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
 */

const NS = 'auth-shim-flux-agents';
const FLUX_NS = 'flux-system';
const DEPLOY_PATH = 'deploy/agent-chart';
const SELECTOR = 'app.kubernetes.io/instance=claude-agent';
const SHIPPED_SIDECAR_IMAGE = 'ghcr.io/auth-shim/auth-shim:0.1.0';

let dir: string;
let repo: HelmRepo;
let git: GitServer;
const controllers: Array<RunningController | undefined> = [];
let crdsAdded: string[] = [];
let fluxNsCreated = false;
let clusterUp = false;

async function diagnostics(): Promise<string> {
  const flux = await kube.kubectl(['get', 'gitrepository,kustomization', '-n', FLUX_NS, '-o', 'yaml']);
  const hr = await kube.kubectl(['get', 'helmrelease,helmchart,helmrepository', '-n', NS, '-o', 'yaml']);
  return [flux.stdout.slice(-4000), hr.stdout.slice(-6000), ...(await Promise.all(controllers.map((c) => logTail(c)))), `repository served: ${repo?.served.join(', ')}`].join('\n');
}

/** The shipped HelmRelease (from kustomize, as Flux builds it). */
async function shippedRelease(): Promise<Obj & { spec: { postRenderers: Array<{ kustomize: { patches: Array<{ patch: string }> } }> } }> {
  const docs = (await kube.kubectlOk(['kustomize', DEPLOY_PATH])).split(/^---$/m).map((d) => parse(d) as Obj);
  const hr = docs.find((d) => d['kind'] === 'HelmRelease');
  if (hr === undefined) throw new Error(`${DEPLOY_PATH} has no HelmRelease`);
  return hr as Obj & { spec: { postRenderers: Array<{ kustomize: { patches: Array<{ patch: string }> } }> } };
}

beforeAll(async () => {
  await requireCluster();
  clusterUp = true;
  dir = await tmp('auth-shim-flux-cluster-');
  await deleteNamespaces(NS);
  const before = new Set((await kube.kubectlOk(['get', 'crd', '-o', 'name'])).trim().split('\n'));
  crdsAdded = (await installPublishedCrds(kube)).filter((n) => !before.has(n));
  await createNamespace(NS);
  if ((await kube.kubectl(['get', 'namespace', FLUX_NS])).code !== 0) {
    await createNamespace(FLUX_NS);
    fluxNsCreated = true;
  }
  repo = await startHelmRepo(dir, AGENT_CHART);
  const files = Object.fromEntries(readdirSync(join(REPO_ROOT, DEPLOY_PATH)).map((f) => [`${DEPLOY_PATH}/${f}`, join(REPO_ROOT, DEPLOY_PATH, f)]));
  git = await startGitServer(dir, files);
  controllers.push(...(await startFluxControllers({ kubeconfig: KUBECONFIG }, dir)));
}, 900_000);

afterAll(async () => {
  if (clusterUp) {
    // With the controllers still running, so their finalizers are honoured (helm uninstall, pruning).
    await kube.kubectl(['delete', 'kustomization', 'claude-agent', '-n', FLUX_NS, '--ignore-not-found', '--wait=true', '--timeout=180s']);
    await kube.kubectl(['delete', 'helmrelease,helmrepository', '--all', '-n', NS, '--ignore-not-found', '--wait=true', '--timeout=180s']);
    await kube.kubectl(['delete', 'gitrepository', 'claude-agent-deploy', '-n', FLUX_NS, '--ignore-not-found', '--wait=true', '--timeout=120s']);
  }
  await stopControllers(controllers);
  await repo?.close();
  await git?.close();
  if (clusterUp) {
    await deleteNamespaces(NS, ...(fluxNsCreated ? [FLUX_NS] : []));
    if (crdsAdded.length > 0) await kube.kubectl(['delete', ...crdsAdded, '--ignore-not-found', '--wait=true', '--timeout=120s']);
  }
  if (dir !== undefined) await rm(dir, { recursive: true, force: true });
}, 900_000);

/** The pod spec fields injection decides, without what the API server adds per pod (the token volume's random name). */
function injectedParts(pod: Obj): Obj {
  const spec = pod.spec as { initContainers?: Obj[]; containers: Obj[]; volumes?: Array<{ name: string }>; serviceAccountName?: string; securityContext?: Obj };
  const api = (n: string) => n.startsWith('kube-api-access-');
  const container = (c: Obj) => ({ ...c, volumeMounts: ((c['volumeMounts'] ?? []) as Array<{ name: string }>).filter((m) => !api(m.name)) });
  return {
    annotations: pod.metadata?.['annotations'],
    initContainers: (spec.initContainers ?? []).map(container),
    containers: spec.containers.map(container),
    volumes: (spec.volumes ?? []).filter((v) => !api(v.name)),
    serviceAccountName: spec.serviceAccountName,
    securityContext: spec.securityContext,
  };
}

describe('deploy/agent-chart reconciled by Flux on the test cluster', () => {
  it('the HelmRelease with the post-renderer patch becomes Ready, and its pod is exactly what `auth-shim inject` makes of the same rendering', async () => {
    const shipped = await shippedRelease();
    const patch = shipped.spec.postRenderers[0]?.kustomize.patches[0]?.patch ?? '';
    expect(patch).toContain(SHIPPED_SIDECAR_IMAGE);
    await apply(kube, [
      { apiVersion: 'source.toolkit.fluxcd.io/v1', kind: 'GitRepository', metadata: { name: 'claude-agent-deploy', namespace: FLUX_NS }, spec: { interval: '10m', url: git.url, ref: { branch: git.branch } } },
      {
        apiVersion: 'kustomize.toolkit.fluxcd.io/v1',
        kind: 'Kustomization',
        metadata: { name: 'claude-agent', namespace: FLUX_NS },
        spec: {
          interval: '10m',
          path: `./${DEPLOY_PATH}`,
          prune: true,
          targetNamespace: NS,
          sourceRef: { kind: 'GitRepository', name: 'claude-agent-deploy' },
          patches: [
            { target: { kind: 'HelmRepository', name: 'claude-agent' }, patch: JSON.stringify([{ op: 'replace', path: '/spec/url', value: repo.url }]) },
            {
              target: { kind: 'HelmRelease', name: 'claude-agent' },
              patch: JSON.stringify([
                { op: 'replace', path: '/spec/values/image', value: AGENT_IMAGE },
                { op: 'add', path: '/spec/install', value: { disableWait: true } },
                { op: 'replace', path: '/spec/postRenderers/0/kustomize/patches/0/patch', value: patch.replaceAll(SHIPPED_SIDECAR_IMAGE, SHIM_IMAGE) },
              ]),
            },
          ],
        },
      },
    ]);
    let hr: Obj;
    try {
      hr = await waitFor('HelmRelease claude-agent Ready', async () => {
        const o = await getJson(kube, ['helmrelease', 'claude-agent', '-n', NS]).catch(() => undefined);
        return o !== undefined && condition(o, 'Ready')?.status === 'True' ? o : undefined;
      }, 300_000, 500);
    } catch (err) {
      throw new Error(`${(err as Error).message}\n${await diagnostics()}`);
    }
    expect(condition(hr, 'Released')?.reason).toBe('InstallSucceeded');
    expect(repo.served).toEqual(expect.arrayContaining(['GET /index.yaml 200', 'GET /claude-agent-1.4.0.tgz 200']));

    // The real pod the Deployment's ReplicaSet created.
    const pod = await waitFor('the claude-agent pod', async () => {
      const items = ((await getJson(kube, ['pods', '-n', NS, '-l', SELECTOR])).items ?? []) as Obj[];
      return items.length === 1 ? items[0] : undefined;
    }, 120_000, 500);

    // `auth-shim inject` of the same rendering (release name, namespace, values as Flux used them),
    // configured like the webhook deploy/flux/auth-shim installs, with the image built here.
    const values = { ...(hr.spec?.['values'] as Obj) };
    expect(values['image']).toBe(AGENT_IMAGE);
    await writeFile(join(dir, 'values.yaml'), stringify(values));
    const rendered = await helm(['template', 'claude-agent', AGENT_CHART, '--namespace', NS, '-f', join(dir, 'values.yaml')]);
    expect(rendered.code, rendered.stderr).toBe(0);
    await writeFile(join(dir, 'rendered.yaml'), rendered.stdout);
    const injected = (await inject(join(dir, 'rendered.yaml'), { ...(await injectorEnv(dir)), AUTH_SHIM_SIDECAR_IMAGE: SHIM_IMAGE })).find((o) => o.kind === 'Deployment');
    const template = (injected?.['spec'] as { template: { metadata: Obj; spec: Obj } } | undefined)?.template;
    if (template === undefined) throw new Error('auth-shim inject wrote no Deployment');
    // Defaulted by the same API server, without being stored.
    const expected = JSON.parse(await kube.kubectlOk(['create', '--dry-run=server', '-o', 'json', '-f', '-'], JSON.stringify({ apiVersion: 'v1', kind: 'Pod', metadata: { ...template.metadata, name: 'inject-output', namespace: NS }, spec: template.spec }))) as Obj;

    const real = injectedParts(pod);
    expect(real).toEqual(injectedParts(expected));
    // The comparison has teeth: the sidecar is there, first, with its mounts and the agent's env.
    const init = real['initContainers'] as Array<{ name: string; image: string; restartPolicy?: string }>;
    expect(init.map((c) => c.name)).toEqual(['auth-shim', 'prepare-workspace']);
    expect(init[0]).toMatchObject({ image: SHIM_IMAGE, restartPolicy: 'Always' });
    const agentEnv = ((real['containers'] as Array<{ env: Array<{ name: string; value?: string }> }>)[0]?.env ?? []).map((e) => e.name);
    expect(agentEnv).toEqual(expect.arrayContaining(['ANTHROPIC_BASE_URL', 'ANTHROPIC_API_KEY']));
    expect((real['volumes'] as Array<{ name: string }>).map((v) => v.name)).toEqual(expect.arrayContaining(['auth-shim-oauth-token', 'auth-shim-litellm-key']));
    // What Flux installed is the post-rendered chart, not a copy of deploy/: the file still says the shipped image.
    expect(await readFile(join(REPO_ROOT, DEPLOY_PATH, 'helmrelease.yaml'), 'utf8')).toContain(SHIPPED_SIDECAR_IMAGE);
  }, 900_000);
});
