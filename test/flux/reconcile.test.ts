import { readdirSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  createNamespace,
  DEFAULT_CONTROLLERS,
  REPO_ROOT,
  startControlPlane,
  type ControlPlane,
} from '../controlplane/cluster.js';
import { apply, getJson, installPublishedCrds, waitFor, type Obj } from '../controlplane/kube.js';
import {
  condition,
  fluxControllers,
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
} from './flux.js';

/*
 * deploy/flux/auth-shim reconciled by the real Flux controllers (source-controller,
 * kustomize-controller and helm-controller, built by test/flux/build.sh) against a real
 * kube-apiserver with the published Flux CRDs, as a user deploys it: a Git repository (served on
 * loopback by `git http-backend`) holds deploy/ byte for byte, a Flux Kustomization points at
 * ./deploy/flux/auth-shim, and the chart comes from a Helm HTTP repository on loopback serving
 * charts/auth-shim.
 *
 * Changed from deploy/, by patches in the Flux Kustomization (the files stay as shipped): the
 * HelmRepository's URL points at the loopback repository (and its `type: oci` goes, as it is an
 * HTTP repository); there is no kubelet, so no pod ever runs — Helm's wait for ready workloads
 * (`disableWait`) and `helm test` (`test.enable`) are turned off. Proven: Flux clones the
 * repository, builds and applies the kustomization, resolves `0.1.x` from the chart repository,
 * helm-controller installs the chart with the HelmRelease's values (the API server admits every
 * object under Pod Security `restricted`), and a pushed change of `spec.values` upgrades the
 * release. Not proven here: the webhook pod starting, `helm test`, remediation of a failing
 * rollout — those need the test cluster (issue 14).
 */

const DEPLOY_PATH = 'deploy/flux/auth-shim';
const NS = 'auth-shim-system';
const FLUX_NS = 'flux-system';

let cp: ControlPlane;
let dir: string;
let repo: HelmRepo;
let git: GitServer;
const controllers: Array<RunningController | undefined> = [];

async function diagnostics(): Promise<string> {
  const flux = await cp.kubectl(['get', 'gitrepository,kustomization', '-n', FLUX_NS, '-o', 'yaml']);
  const hr = await cp.kubectl(['get', 'helmrelease,helmchart,helmrepository', '-n', NS, '-o', 'yaml']);
  return [
    flux.stdout.slice(-4000),
    hr.stdout.slice(-6000),
    ...(await Promise.all(controllers.map((c) => logTail(c)))),
    `repository served: ${repo?.served.join(', ')}`,
  ].join('\n');
}

async function readyRelease(generation: number): Promise<Obj> {
  try {
    return await waitFor(
      'HelmRelease auth-shim Ready',
      async () => {
        // Absent until kustomize-controller has applied it.
        const hr = await getJson(cp, ['helmrelease', 'auth-shim', '-n', NS]).catch(() => undefined);
        if (hr === undefined) return undefined;
        const status = hr['status'] as { observedGeneration?: number } | undefined;
        return condition(hr, 'Ready')?.status === 'True' && (status?.observedGeneration ?? 0) >= generation
          ? hr
          : undefined;
      },
      180_000,
    );
  } catch (err) {
    throw new Error(`${(err as Error).message}\n${await diagnostics()}`);
  }
}

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'auth-shim-flux-'));
  cp = await startControlPlane({ controllers: DEFAULT_CONTROLLERS });
  await installPublishedCrds(cp);
  await createNamespace(cp, FLUX_NS);
  repo = await startHelmRepo(dir);
  const files = Object.fromEntries(
    readdirSync(join(REPO_ROOT, DEPLOY_PATH)).map((f) => [`${DEPLOY_PATH}/${f}`, join(REPO_ROOT, DEPLOY_PATH, f)]),
  );
  git = await startGitServer(dir, files);
  controllers.push(...(await startFluxControllers(cp, dir)));
}, 180_000);

afterAll(async () => {
  await stopControllers(controllers);
  await repo?.close();
  await git?.close();
  await cp?.stop();
  if (dir !== undefined) await rm(dir, { recursive: true, force: true });
}, 60_000);

describe('deploy/flux/auth-shim reconciled by Flux', () => {
  it('uses the controllers of the Flux release the CRDs come from', () => {
    expect(fluxControllers().map((c) => `${c.name}@${c.version}`)).toEqual([
      'source-controller@v1.9.5',
      'helm-controller@v1.6.4',
      'kustomize-controller@v1.9.5',
    ]);
  });

  it('Kustomization applies deploy/flux/auth-shim from Git; its HelmRelease gets Ready (loopback chart)', async () => {
    await apply(cp, [
      {
        apiVersion: 'source.toolkit.fluxcd.io/v1',
        kind: 'GitRepository',
        metadata: { name: 'auth-shim-deploy', namespace: FLUX_NS },
        spec: { interval: '10m', url: git.url, ref: { branch: git.branch } },
      },
      {
        apiVersion: 'kustomize.toolkit.fluxcd.io/v1',
        kind: 'Kustomization',
        metadata: { name: 'auth-shim', namespace: FLUX_NS },
        spec: {
          interval: '10m',
          path: `./${DEPLOY_PATH}`,
          prune: true,
          sourceRef: { kind: 'GitRepository', name: 'auth-shim-deploy' },
          patches: [
            loopbackHelmRepositoryPatch(repo.url),
            {
              target: { kind: 'HelmRelease', name: 'auth-shim' },
              patch: JSON.stringify([
                { op: 'replace', path: '/spec/test/enable', value: false },
                { op: 'add', path: '/spec/install/disableWait', value: true },
                { op: 'add', path: '/spec/upgrade/disableWait', value: true },
              ]),
            },
          ],
        },
      },
    ]);
    const hr = await readyRelease(1);
    expect(condition(hr, 'Released')?.reason).toBe('InstallSucceeded');
    const history = (hr['status'] as { history?: Array<{ chartVersion: string; status: string }> }).history ?? [];
    expect(history[0]).toMatchObject({ chartVersion: '0.1.0', status: 'deployed' });
    expect(repo.served).toEqual(expect.arrayContaining(['GET /index.yaml 200', 'GET /auth-shim-0.1.0.tgz 200']));

    // What helm-controller installed carries the HelmRelease's values.
    const deployment = await getJson(cp, ['deployment', 'auth-shim', '-n', NS]);
    const env =
      (
        (deployment.spec?.['template'] as Obj).spec as {
          containers: Array<{ env: Array<{ name: string; value?: string }> }>;
        }
      ).containers[0]?.env ?? [];
    expect(env.find((e) => e.name === 'AUTH_SHIM_DEFAULT_UPSTREAM_URL')?.value).toBe(
      'http://litellm.ai.svc:4000/anthropic',
    );
    expect((await cp.kubectl(['get', 'mutatingwebhookconfiguration', 'auth-shim'])).code).toBe(0);
    const kustomization = await getJson(cp, ['kustomization', 'auth-shim', '-n', FLUX_NS]);
    expect(condition(kustomization, 'Ready')).toMatchObject({ status: 'True', reason: 'ReconciliationSucceeded' });
    const helmRepository = await getJson(cp, ['helmrepository', 'auth-shim', '-n', NS]);
    expect(helmRepository.spec).toMatchObject({ url: repo.url, interval: '1h' });
  }, 240_000);

  it('a pushed change of spec.values upgrades the release', async () => {
    const before = await getJson(cp, ['helmrelease', 'auth-shim', '-n', NS]);
    const generation = (before.metadata?.['generation'] as number) + 1;
    await pushRolloutAnnotation(cp, git, `${DEPLOY_PATH}/helmrelease.yaml`, 'auth-shim-deploy');
    const hr = await readyRelease(generation);
    expect(condition(hr, 'Released')?.reason).toBe('UpgradeSucceeded');
    const history = (hr['status'] as { history?: Array<{ version: number; status: string }> }).history ?? [];
    expect(history[0]).toMatchObject({ version: 2, status: 'deployed' });
    const deployment = await getJson(cp, ['deployment', 'auth-shim', '-n', NS]);
    expect(
      ((deployment.spec?.['template'] as Obj).metadata as { annotations?: Record<string, string> }).annotations?.[
        'example.com/rollout'
      ],
    ).toBe('2');
  }, 240_000);
});
