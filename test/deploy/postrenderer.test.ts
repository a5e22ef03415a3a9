import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import { find, type K8sObject } from '../chart/_render.js';
import { helm } from '../helpers/helm.js';
import { validatePod } from '../injector/_helpers.js';
import { AGENT_CHART, inject, injectorEnv } from './_inject.js';
import { DEPLOY, kustomize } from './_kustomize.js';

/**
 * deploy/agent-chart adds the sidecar to a third-party chart with a Flux kustomize post-renderer
 * patch. Flux applies `postRenderers[].kustomize.patches` with kustomize's own patch code, so
 * rendering the chart and running `kubectl kustomize` over it with the same patches gives what
 * Flux would apply. That must equal `auth-shim inject --all` of the same rendering, configured
 * like the webhook that deploy/flux/auth-shim installs — otherwise the static patch is stale.
 */

let dir: string;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'auth-shim-postrender-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

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
      AGENT_CHART,
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

    const injected = await inject(join(dir, 'rendered.yaml'), await injectorEnv(dir));
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
