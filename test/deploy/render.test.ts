import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { docBlock } from '../cluster/_cluster.js';
import { litellmVerdict } from '../../src/check/litellm-version.js';
import { parse, stringify } from 'yaml';
import { loadWebhookConfig } from '../../src/injector/config.js';
import { mutate } from '../../src/injector/mutate.js';
import { ADMIN_PORT_NAME } from '../../src/injector/sidecar.js';
import { resolvedEnv, webhookContainer } from '../chart/_env.js';
import { find, renderChart, type K8sObject } from '../chart/_render.js';
import { manifestProblems } from '../chart/_validate.js';
import { validatePod } from '../injector/_helpers.js';
import { DEPLOY, kustomize } from './_kustomize.js';

/**
 * The examples in deploy/ render with real kustomize, every object validates against its schema
 * (Flux CRDs included), and they fit together: the HelmRelease's values pass the chart's schema,
 * its upstream is the LiteLLM Service, and the agent it would inject gets a valid pod.
 */

const DIRS = ['flux/auth-shim', 'agent', 'agent-chart', 'litellm'];

async function injectorFromHelmRelease() {
  const release = find(await kustomize(join(DEPLOY, 'flux/auth-shim')), 'HelmRelease');
  const values = (release['spec'] as { values: unknown }).values;
  const { mkdtemp, writeFile, rm } = await import('node:fs/promises');
  const { tmpdir } = await import('node:os');
  const dir = await mkdtemp(join(tmpdir(), 'auth-shim-values-'));
  try {
    await writeFile(join(dir, 'values.yaml'), stringify(values));
    const objects = await renderChart(['-f', join(dir, 'values.yaml')]);
    return { release, objects, config: loadWebhookConfig(resolvedEnv(webhookContainer(objects).env), []) };
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

describe.each(DIRS)('deploy/%s', (dir) => {
  it('renders with kubectl kustomize and every object validates', async () => {
    const objects = await kustomize(join(DEPLOY, dir));
    expect(objects.length).toBeGreaterThan(0);
    expect((await Promise.all(objects.map((o) => manifestProblems(o)))).flat()).toEqual([]);
  });
});

describe('deploy/ fits together', () => {
  it('the injector HelmRelease uses the chart from its HelmRepository; its values pass the chart schema', async () => {
    const { release, objects } = await injectorFromHelmRelease();
    const spec = release['spec'] as { chart: { spec: { chart: string; sourceRef: { kind: string; name: string } } } };
    expect(spec.chart.spec.chart).toBe('auth-shim');
    const repo = find(await kustomize(join(DEPLOY, 'flux/auth-shim')), spec.chart.spec.sourceRef.kind);
    expect(repo.metadata.name).toBe(spec.chart.spec.sourceRef.name);
    expect(find(objects, 'Deployment').metadata.namespace).toBeDefined();
  });

  it('its upstream is the /anthropic route of the LiteLLM Service in deploy/litellm', async () => {
    const { config } = await injectorFromHelmRelease();
    const litellm = await kustomize(join(DEPLOY, 'litellm'));
    const svc = find(litellm, 'Service');
    const port = (svc['spec'] as { ports: { port: number }[] }).ports[0]?.port;
    expect(config.injector.defaultUpstreamUrl?.href).toBe(
      `http://${svc.metadata.name}.${svc.metadata.namespace}.svc:${port}/anthropic`,
    );
  });

  it('the annotated agent is injected with a valid pod, its container named in the annotation', async () => {
    const { config } = await injectorFromHelmRelease();
    const deployment = find(await kustomize(join(DEPLOY, 'agent')), 'Deployment');
    const template = (deployment['spec'] as { template: unknown }).template;
    const m = mutate({ pod: template, namespace: 'agents', namespaceOptedIn: false, config: config.injector });
    expect(m.outcome).toBe('injected');
    if (m.outcome !== 'injected') return;
    validatePod({
      apiVersion: 'v1',
      kind: 'Pod',
      metadata: { name: 'agent', ...(m.pod['metadata'] as object) },
      spec: m.pod['spec'],
    });
    const spec = m.pod['spec'] as {
      initContainers: { name: string; restartPolicy?: string }[];
      volumes: { secret?: { secretName: string } }[];
    };
    expect(spec.initContainers[0]).toMatchObject({ name: 'auth-shim', restartPolicy: 'Always' });
    expect(
      spec.volumes
        .map((v) => v.secret?.secretName)
        .filter(Boolean)
        .sort(),
    ).toEqual(['claude-oauth', 'litellm-virtual-key-claude-agent']);
  });

  it('the agent NetworkPolicy lets the pod reach LiteLLM and nothing else but DNS', async () => {
    const policy = find(
      await kustomize(join(DEPLOY, 'agent')),
      'NetworkPolicy',
      (o) => o.metadata.name === 'claude-agent-egress',
    ) as K8sObject & {
      spec: { egress: { to: { podSelector: { matchLabels: Record<string, string> } }[]; ports: { port: number }[] }[] };
    };
    const litellmPod = (
      find(await kustomize(join(DEPLOY, 'litellm')), 'Deployment')['spec'] as {
        template: { metadata: { labels: Record<string, string> } };
      }
    ).template.metadata.labels;
    const toLitellm = policy.spec.egress.find((e) => e.ports.some((p) => p.port === 4000));
    expect(toLitellm?.to[0]?.podSelector.matchLabels).toEqual(litellmPod);
    expect(policy.spec.egress.flatMap((e) => e.ports.map((p) => p.port)).sort()).toEqual([4000, 53, 53]);
  });

  it("the admin NetworkPolicy admits only the scraper's namespace, to the sidecar's admin port alone", async () => {
    const objects = await kustomize(join(DEPLOY, 'agent'));
    type Ingress = {
      from: { namespaceSelector?: { matchLabels: Record<string, string> }; podSelector?: unknown; ipBlock?: unknown }[];
      ports: { port: number | string; protocol: string }[];
    };
    const policy = find(objects, 'NetworkPolicy', (o) => o.metadata.name === 'claude-agent-ingress') as K8sObject & {
      spec: { podSelector: { matchLabels: Record<string, string> }; policyTypes: string[]; ingress: Ingress[] };
    };
    const deployment = find(objects, 'Deployment');
    const template = (deployment['spec'] as { template: { metadata: { labels: Record<string, string> } } }).template;
    for (const [k, v] of Object.entries(policy.spec.podSelector.matchLabels))
      expect(template.metadata.labels[k]).toBe(v);
    expect(policy.spec.policyTypes).toEqual(['Ingress']);
    expect(policy.spec.ingress).toHaveLength(1);
    const rule = policy.spec.ingress[0] as Ingress;
    // Every peer is namespace-scoped (no open `from: []`, no ipBlock reaching the world).
    expect(rule.from.length).toBeGreaterThan(0);
    for (const peer of rule.from) {
      expect(peer.namespaceSelector?.matchLabels['kubernetes.io/metadata.name']).toBeTruthy();
      expect(peer.ipBlock).toBeUndefined();
    }
    // The port is the admin port of the sidecar the webhook injects into this very Deployment.
    const { config } = await injectorFromHelmRelease();
    const m = mutate({ pod: template, namespace: 'agents', namespaceOptedIn: false, config: config.injector });
    if (m.outcome !== 'injected') throw new Error(`not injected: ${m.outcome}`);
    const sidecar = (
      m.pod['spec'] as { initContainers: { name: string; ports?: { name: string; containerPort: number }[] }[] }
    ).initContainers.find((c) => c.name === 'auth-shim');
    const admin = sidecar?.ports?.find((p) => p.name === ADMIN_PORT_NAME);
    expect(admin).toBeDefined();
    expect(rule.ports).toEqual([{ port: ADMIN_PORT_NAME, protocol: 'TCP' }]);
  });
});

describe('deploy/litellm', () => {
  it('runs a LiteLLM that can carry OAuth, never a compromised release (the verdict of auth-shim check)', async () => {
    const d = find(await kustomize(join(DEPLOY, 'litellm')), 'Deployment') as K8sObject & {
      spec: { template: { spec: { containers: { image: string; env: { name: string }[] }[] } } };
    };
    const image = d.spec.template.spec.containers[0]?.image ?? '';
    const version = /:v?(\d+\.\d+\.\d+)/.exec(image)?.[1];
    expect(version, image).toBeDefined();
    const verdict = litellmVerdict(version ?? '');
    expect(verdict.oauth, image).toBe(true);
    expect(verdict.compromised, image).toBe(false);
  });

  it('gives the LiteLLM pod no Anthropic credential, and its config no pass-through deployment', async () => {
    const objects = await kustomize(join(DEPLOY, 'litellm'));
    const env = (
      (find(objects, 'Deployment')['spec'] as { template: { spec: { containers: { env: { name: string }[] }[] } } })
        .template.spec.containers[0]?.env ?? []
    ).map((e) => e.name);
    for (const name of ['ANTHROPIC_API_KEY', 'ANTHROPIC_AUTH_TOKEN', 'CLAUDE_CODE_OAUTH_TOKEN'])
      expect(env).not.toContain(name);
    const config = parse(await readFile(join(DEPLOY, 'litellm', 'config.yaml'), 'utf8')) as {
      model_list?: { litellm_params?: Record<string, unknown> }[];
      general_settings?: Record<string, unknown>;
    };
    expect(JSON.stringify(config)).not.toMatch(/use_in_pass_through|anthropic\/|ANTHROPIC_API_KEY/);
    expect(config.general_settings?.['litellm_key_header_name']).toBeUndefined();
    // The token-exchange route for Workload Identity Federation is the one docs/KUBERNETES.md documents
    // (and test/cluster/federation.test.ts runs through real LiteLLM).
    const documented = parse(docBlock('docs/KUBERNETES.md', 'pass_through_endpoints')) as {
      general_settings: Record<string, unknown>;
    };
    expect(config.general_settings?.['pass_through_endpoints']).toEqual(
      documented.general_settings['pass_through_endpoints'],
    );
    const cm = find(objects, 'ConfigMap');
    expect((cm['data'] as Record<string, string>)['config.yaml']).toBe(
      await readFile(join(DEPLOY, 'litellm', 'config.yaml'), 'utf8'),
    );
  });
});
