import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import { INJECTOR_OPTIONS, loadWebhookConfig } from '../../src/injector/config.js';
import { resolvedEnv, webhookContainer } from '../chart/_env.js';
import { find, parseManifests, renderChart, type K8sObject } from '../chart/_render.js';
import { runCli } from '../helpers/child.js';
import { helm } from '../helpers/helm.js';
import { validatePod } from '../injector/_helpers.js';
import { DEPLOY, kustomize } from './_kustomize.js';

/**
 * deploy/agent-chart adds the sidecar to a third-party chart with a Flux kustomize post-renderer
 * patch. Flux applies `postRenderers[].kustomize.patches` with kustomize's own patch code, so
 * rendering the chart and running `kubectl kustomize` over it with the same patches gives what
 * Flux would apply. That must equal `auth-shim inject --all` of the same rendering, configured
 * like the webhook that deploy/flux/auth-shim installs — otherwise the static patch is stale.
 */

const CHART = join(import.meta.dirname, 'fixtures', 'agent-chart');
let dir: string;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'auth-shim-postrender-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

async function injectorEnv(): Promise<Record<string, string>> {
  const release = find(await kustomize(join(DEPLOY, 'flux/auth-shim')), 'HelmRelease');
  await writeFile(join(dir, 'injector-values.yaml'), stringify((release['spec'] as { values: unknown }).values));
  const env = resolvedEnv(webhookContainer(await renderChart(['-f', join(dir, 'injector-values.yaml')])).env);
  loadWebhookConfig(env, []); // the same settings the webhook would run with
  const injectorEnvs = new Set<string>(Object.values(INJECTOR_OPTIONS).map((o) => o.env));
  return Object.fromEntries(Object.entries(env).filter(([k]) => injectorEnvs.has(k)));
}

async function inject(file: string, env: Record<string, string>): Promise<K8sObject[]> {
  const shim = runCli(['inject', '--all', file], env);
  const { code } = await shim.exited;
  if (code !== 0) throw new Error(`auth-shim inject failed (${code}): ${shim.stderr.join('')}`);
  return parseManifests(shim.stdout.join('\n'));
}

describe('deploy/agent-chart: Flux post-renderer patch', () => {
  it('renders the chart to what `auth-shim inject` makes of it', async () => {
    const hr = find(await kustomize(join(DEPLOY, 'agent-chart')), 'HelmRelease') as K8sObject & {
      metadata: { name: string; namespace: string };
      spec: { values: unknown; postRenderers: { kustomize: { patches: unknown[] } }[] };
    };
    // The chart as Flux renders it: release name and namespace from the HelmRelease, its values.
    await writeFile(join(dir, 'values.yaml'), stringify(hr.spec.values));
    const rendered = await helm([
      'template',
      hr.metadata.name,
      CHART,
      '--namespace',
      hr.metadata.namespace,
      '-f',
      join(dir, 'values.yaml'),
    ]);
    expect(rendered.code, rendered.stderr).toBe(0);
    await writeFile(join(dir, 'rendered.yaml'), rendered.stdout);

    const patches = hr.spec.postRenderers.flatMap((p) => p.kustomize.patches);
    expect(patches.length).toBeGreaterThan(0);
    await writeFile(
      join(dir, 'kustomization.yaml'),
      stringify({
        apiVersion: 'kustomize.config.k8s.io/v1beta1',
        kind: 'Kustomization',
        resources: ['rendered.yaml'],
        patches,
      }),
    );
    const patched = await kustomize(dir);

    const injected = await inject(join(dir, 'rendered.yaml'), await injectorEnv());
    const byKey = (objects: K8sObject[]) => Object.fromEntries(objects.map((o) => [`${o.kind}/${o.metadata.name}`, o]));
    expect(byKey(patched)).toEqual(byKey(injected));

    const deployment = find(patched, 'Deployment') as K8sObject & {
      spec: { template: { metadata: object; spec: { initContainers: { name: string }[] } } };
    };
    expect(deployment.spec.template.spec.initContainers.map((c) => c.name)).toEqual(['auth-shim', 'prepare-workspace']);
    validatePod({
      apiVersion: 'v1',
      kind: 'Pod',
      metadata: { name: 'agent', ...deployment.spec.template.metadata },
      spec: deployment.spec.template.spec,
    });
  });
});
