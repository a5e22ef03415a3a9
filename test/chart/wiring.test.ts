import { describe, expect, it } from 'vitest';
import { loadWebhookConfig } from '../../src/injector/config.js';
import { sidecarContainer } from '../../src/injector/sidecar.js';
import { PROTECTED_NAMESPACES } from '../../src/injector/mutate.js';
import { sidecarSettings } from '../helpers/sidecar-settings.js';
import { CI_VALUES, ciValuesPath, find, findAll, NAMESPACE, renderChart, type K8sObject } from './_render.js';
import { resolvedEnv, webhookContainer } from './_env.js';

/**
 * The objects of one release must agree with each other: names the webhook is told (Secret,
 * MutatingWebhookConfiguration, Service) are the names RBAC grants and cert-manager writes; the
 * selectors keep the injector out of its own way; the API server can always reach the webhook.
 */

type Expr = { key: string; operator: 'In' | 'NotIn' | 'Exists' | 'DoesNotExist'; values?: string[] };
type Selector = { matchLabels?: Record<string, string>; matchExpressions?: Expr[] };
type Webhook = {
  name: string;
  failurePolicy: string;
  sideEffects: string;
  timeoutSeconds: number;
  admissionReviewVersions: string[];
  clientConfig: { service: { name: string; namespace: string; path: string; port: number }; caBundle?: string };
  namespaceSelector: Selector;
  objectSelector: Selector;
};

/** Kubernetes label-selector semantics (apimachinery `labels.Selector`). */
function matches(selector: Selector, labels: Record<string, string>): boolean {
  for (const [k, v] of Object.entries(selector.matchLabels ?? {})) if (labels[k] !== v) return false;
  for (const e of selector.matchExpressions ?? []) {
    const has = Object.hasOwn(labels, e.key);
    const value = labels[e.key];
    if (e.operator === 'In' && !(has && (e.values ?? []).includes(value as string))) return false;
    if (e.operator === 'NotIn' && has && (e.values ?? []).includes(value as string)) return false;
    if (e.operator === 'Exists' && !has) return false;
    if (e.operator === 'DoesNotExist' && has) return false;
  }
  return true;
}

const nsLabels = (name: string, optedIn: boolean) => ({
  'kubernetes.io/metadata.name': name,
  ...(optedIn ? { 'auth-shim.io/inject': 'enabled' } : {}),
});

function get<T>(o: unknown, path: string): T {
  return path.split('.').reduce<unknown>((v, k) => (v as Record<string, unknown>)[k], o) as T;
}

function podTemplate(objects: readonly K8sObject[]): {
  metadata: { labels: Record<string, string> };
  spec: Record<string, unknown>;
} {
  return get(find(objects, 'Deployment'), 'spec.template');
}

describe.each(CI_VALUES)('objects of one release agree (ci/%s)', (file) => {
  it('the API server reaches the webhook: entry → Service → container port', async () => {
    const objects = await renderChart(['-f', ciValuesPath(file)]);
    const service = find(objects, 'Service');
    const c = webhookContainer(objects);
    const { webhook } = loadWebhookConfig(resolvedEnv(c.env), []);
    const svcPort = get<{ name: string; port: number; targetPort: string }[]>(service, 'spec.ports').find(
      (p) => p.name === 'https',
    );
    const containerPort = (c['ports'] as { name: string; containerPort: number }[]).find(
      (p) => p.name === svcPort?.targetPort,
    );
    expect(containerPort?.containerPort).toBe(webhook.listen.port);
    expect(matches({ matchLabels: get(service, 'spec.selector') }, podTemplate(objects).metadata.labels)).toBe(true);
    const entries = get<Webhook[]>(find(objects, 'MutatingWebhookConfiguration'), 'webhooks');
    for (const w of entries) {
      expect(w.clientConfig.service).toMatchObject({
        name: service.metadata.name,
        namespace: NAMESPACE,
        port: svcPort?.port,
      });
    }
    expect(entries.map((w) => w.clientConfig.service.path).sort()).toEqual(['/mutate', '/mutate/namespace-enabled']);
  });

  it("each entry is explicit: sideEffects None, v1 reviews, a timeout above the webhook's own", async () => {
    const objects = await renderChart(['-f', ciValuesPath(file)]);
    const { webhook } = loadWebhookConfig(resolvedEnv(webhookContainer(objects).env), []);
    for (const w of get<Webhook[]>(find(objects, 'MutatingWebhookConfiguration'), 'webhooks')) {
      expect(w).toMatchObject({ sideEffects: 'None', admissionReviewVersions: ['v1'] });
      expect(['Fail', 'Ignore']).toContain(w.failurePolicy);
      expect(w.timeoutSeconds * 1000).toBeGreaterThan(webhook.requestTimeoutMs);
    }
  });

  it('selectors: each pod goes to one entry, never system namespaces, the release one or the injector', async () => {
    const objects = await renderChart(['-f', ciValuesPath(file)]);
    const [byNamespace, byObject] = get<Webhook[]>(find(objects, 'MutatingWebhookConfiguration'), 'webhooks');
    if (byNamespace === undefined || byObject === undefined) throw new Error('two webhook entries expected');
    expect(byNamespace.clientConfig.service.path).toBe('/mutate/namespace-enabled');
    for (const optedIn of [true, false]) {
      const ns = nsLabels('ai', optedIn);
      expect([matches(byNamespace.namespaceSelector, ns), matches(byObject.namespaceSelector, ns)]).toEqual([
        optedIn,
        !optedIn,
      ]);
      for (const excluded of [...PROTECTED_NAMESPACES, NAMESPACE]) {
        for (const w of [byNamespace, byObject])
          expect(matches(w.namespaceSelector, nsLabels(excluded, optedIn)), `${w.name} ${excluded}`).toBe(false);
      }
    }
    const injectorLabels = podTemplate(objects).metadata.labels;
    for (const w of [byNamespace, byObject]) expect(matches(w.objectSelector, injectorLabels)).toBe(false);
    expect(matches(byNamespace.objectSelector, { app: 'agent' })).toBe(true);
  });

  it("runs with the injected sidecar's hardened securityContext, never as root", async () => {
    const objects = await renderChart(['-f', ciValuesPath(file)]);
    const sidecar = sidecarContainer(sidecarSettings());
    expect(webhookContainer(objects)['securityContext']).toEqual(sidecar.securityContext);
    const testPod = find(objects, 'Pod');
    expect(get<{ securityContext: unknown }[]>(testPod, 'spec.containers')[0]?.securityContext).toEqual(
      sidecar.securityContext,
    );
    expect(get(podTemplate(objects), 'spec.securityContext')).toMatchObject({ runAsNonRoot: true, runAsUser: 65532 });
  });

  it('the helm test Pod is a hook that no Service or PodDisruptionBudget selects', async () => {
    const objects = await renderChart(['-f', ciValuesPath(file)]);
    const testPod = find(objects, 'Pod');
    expect(testPod.metadata.annotations?.['helm.sh/hook']).toBe('test');
    expect(
      matches({ matchLabels: get(find(objects, 'Service'), 'spec.selector') }, testPod.metadata.labels ?? {}),
    ).toBe(false);
    expect(matches(get(find(objects, 'PodDisruptionBudget'), 'spec.selector'), testPod.metadata.labels ?? {})).toBe(
      false,
    );
    expect(
      matches(get(find(objects, 'PodDisruptionBudget'), 'spec.selector'), podTemplate(objects).metadata.labels),
    ).toBe(true);
  });
});

describe('certificate modes', () => {
  it('auto: RBAC names only the Secret and webhook config the webhook is told; caBundle is left to it', async () => {
    const objects = await renderChart();
    const c = webhookContainer(objects);
    const { webhook } = loadWebhookConfig(resolvedEnv(c.env), []);
    expect(webhook.tlsMode).toBe('auto');
    const mwc = find(objects, 'MutatingWebhookConfiguration');
    expect(webhook.webhookConfiguration).toBe(mwc.metadata.name);
    expect(webhook.service).toBe(find(objects, 'Service').metadata.name);
    for (const w of get<Webhook[]>(mwc, 'webhooks')) expect(w.clientConfig.caBundle).toBeUndefined();
    type Rule = { apiGroups: string[]; resources: string[]; resourceNames?: string[]; verbs: string[] };
    const roleRules = get<Rule[]>(find(objects, 'Role'), 'rules');
    expect(roleRules).toEqual([
      { apiGroups: [''], resources: ['secrets'], resourceNames: [webhook.tlsSecret], verbs: ['get', 'update'] },
      { apiGroups: [''], resources: ['secrets'], verbs: ['create'] },
    ]);
    expect(get<Rule[]>(find(objects, 'ClusterRole'), 'rules')).toEqual([
      {
        apiGroups: ['admissionregistration.k8s.io'],
        resources: ['mutatingwebhookconfigurations'],
        resourceNames: [mwc.metadata.name],
        verbs: ['get', 'patch'],
      },
    ]);
    const sa = find(objects, 'ServiceAccount').metadata.name;
    for (const b of [...findAll(objects, 'RoleBinding'), ...findAll(objects, 'ClusterRoleBinding')]) {
      expect(get(b, 'subjects')).toEqual([{ kind: 'ServiceAccount', name: sa, namespace: NAMESPACE }]);
    }
    expect(get(podTemplate(objects), 'spec.automountServiceAccountToken')).toBe(true);
  });

  it("cert-manager: the mounted Secret is the Certificate's, names the Service; cainjector points at it", async () => {
    const objects = await renderChart(['-f', ciValuesPath('cert-manager-values.yaml')]);
    const service = find(objects, 'Service').metadata.name;
    const cert = find(objects, 'Certificate', (o) => o.metadata.name === service);
    expect(get<string[]>(cert, 'spec.dnsNames')).toContain(`${service}.${NAMESPACE}.svc`);
    expect(get<string[]>(podTemplate(objects), 'spec.volumes')).toEqual([
      { name: 'tls', secret: { secretName: get(cert, 'spec.secretName'), defaultMode: 0o440 } },
    ]);
    expect(find(objects, 'MutatingWebhookConfiguration').metadata.annotations?.['cert-manager.io/inject-ca-from']).toBe(
      `${NAMESPACE}/${cert.metadata.name}`,
    );
    const issuer = get<{ name: string }>(cert, 'spec.issuerRef').name;
    expect(
      get(
        find(objects, 'Issuer', (o) => o.metadata.name === issuer),
        'spec.ca.secretName',
      ),
    ).toBe(
      get(
        find(objects, 'Certificate', (o) => o.metadata.name !== service),
        'spec.secretName',
      ),
    );
    expect(findAll(objects, 'Role')).toEqual([]);
    expect(get(podTemplate(objects), 'spec.automountServiceAccountToken')).toBe(false);
    const { webhook } = loadWebhookConfig(resolvedEnv(webhookContainer(objects).env), []);
    expect(webhook.tlsCertFile).toBe('/etc/auth-shim/tls/tls.crt');
  });

  it("provided: the user's Secret is mounted and the user's CA is the caBundle", async () => {
    const objects = await renderChart(['-f', ciValuesPath('provided-values.yaml')]);
    expect(get<{ secret: { secretName: string } }[]>(podTemplate(objects), 'spec.volumes')[0]?.secret.secretName).toBe(
      'auth-shim-webhook-tls',
    );
    for (const w of get<Webhook[]>(find(objects, 'MutatingWebhookConfiguration'), 'webhooks'))
      expect(w.clientConfig.caBundle).toMatch(/^LS0tLS1CRUdJTi/);
    expect(findAll(objects, 'Certificate')).toEqual([]);
  });
});

describe('failurePolicy', () => {
  it('defaults to Fail for opted-in namespaces and is configurable per entry', async () => {
    const byName = (objects: K8sObject[]) =>
      Object.fromEntries(
        get<Webhook[]>(find(objects, 'MutatingWebhookConfiguration'), 'webhooks').map((w) => [w.name, w.failurePolicy]),
      );
    expect(byName(await renderChart())).toEqual({ 'namespace.auth-shim.io': 'Fail', 'object.auth-shim.io': 'Ignore' });
    expect(
      byName(
        await renderChart([
          '--set',
          'webhook.namespaceEnabled.failurePolicy=Ignore',
          '--set',
          'webhook.annotated.failurePolicy=Fail',
        ]),
      ),
    ).toEqual({ 'namespace.auth-shim.io': 'Ignore', 'object.auth-shim.io': 'Fail' });
  });
});

describe('availability', () => {
  it('two replicas by default, a PodDisruptionBudget, spread over nodes, none unavailable while rolling', async () => {
    const objects = await renderChart();
    const d = find(objects, 'Deployment');
    expect(get(d, 'spec.replicas')).toBe(2);
    expect(get(d, 'spec.strategy.rollingUpdate.maxUnavailable')).toBe(0);
    expect(get(find(objects, 'PodDisruptionBudget'), 'spec.maxUnavailable')).toBe(1);
    expect(
      get<{ topologyKey: string }[]>(podTemplate(objects), 'spec.topologySpreadConstraints').map((t) => t.topologyKey),
    ).toEqual(['kubernetes.io/hostname']);
  });
});
