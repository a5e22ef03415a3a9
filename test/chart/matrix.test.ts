import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { CHART_DIR, helm } from '../helpers/helm.js';
import { expectGolden } from '../injector/_helpers.js';
import { CI_VALUES, ciValuesPath, renderChart, RELEASE } from './_render.js';
import { manifestProblems } from './_validate.js';

/**
 * The Done-when matrix: `helm lint --strict` and `helm template` with the real helm binary over
 * every `ci/*-values.yaml`, and every rendered object checked against the Kubernetes schema
 * (built-in kinds) or its operator's schema (ServiceMonitor, PodMonitor, PrometheusRule,
 * Certificate, Issuer).
 */

const EXPECTED_KINDS: Record<string, string[]> = {
  'defaults-values.yaml': [
    'ClusterRole',
    'ClusterRoleBinding',
    'Deployment',
    'MutatingWebhookConfiguration',
    'Pod',
    'PodDisruptionBudget',
    'Role',
    'RoleBinding',
    'Service',
    'ServiceAccount',
  ],
  'cert-manager-values.yaml': [
    'Certificate',
    'Certificate',
    'Deployment',
    'Issuer',
    'Issuer',
    'MutatingWebhookConfiguration',
    'Pod',
    'PodDisruptionBudget',
    'Service',
    'ServiceAccount',
  ],
  'cert-manager-issuer-values.yaml': [
    'Certificate',
    'Deployment',
    'MutatingWebhookConfiguration',
    'Pod',
    'PodDisruptionBudget',
    'Service',
    'ServiceAccount',
  ],
  'provided-values.yaml': [
    'Deployment',
    'MutatingWebhookConfiguration',
    'Pod',
    'PodDisruptionBudget',
    'Service',
    'ServiceAccount',
  ],
  'monitoring-values.yaml': [
    'ClusterRole',
    'ClusterRoleBinding',
    'ConfigMap',
    'Deployment',
    'MutatingWebhookConfiguration',
    'NetworkPolicy',
    'Pod',
    'PodDisruptionBudget',
    'PodMonitor',
    'PrometheusRule',
    'Role',
    'RoleBinding',
    'Service',
    'ServiceAccount',
    'ServiceMonitor',
  ],
  'federation-values.yaml': [
    'ClusterRole',
    'ClusterRoleBinding',
    'Deployment',
    'MutatingWebhookConfiguration',
    'Pod',
    'PodDisruptionBudget',
    'Role',
    'RoleBinding',
    'Service',
    'ServiceAccount',
  ],
  'classic-sidecar-values.yaml': [
    'ClusterRole',
    'ClusterRoleBinding',
    'Deployment',
    'MutatingWebhookConfiguration',
    'Pod',
    'PodDisruptionBudget',
    'Role',
    'RoleBinding',
    'Service',
    'ServiceAccount',
  ],
};

/**
 * Files a reviewer should read as rendered YAML; monitoring is left out (its bulk is files/, owned by the
 * telemetry tests).
 */
const GOLDEN = [
  'defaults-values.yaml',
  'cert-manager-values.yaml',
  'provided-values.yaml',
  'classic-sidecar-values.yaml',
  'federation-values.yaml',
];

describe.each(CI_VALUES)('charts/auth-shim with ci/%s', (file) => {
  it('passes helm lint --strict', async () => {
    const r = await helm(['lint', '--strict', CHART_DIR, '--namespace', 'auth-shim-system', '-f', ciValuesPath(file)]);
    expect(r.stderr + r.stdout).toContain('0 chart(s) failed');
    expect(r.code).toBe(0);
  });

  it('renders objects that validate against their schemas, each with app.kubernetes.io labels', async () => {
    const objects = await renderChart(['-f', ciValuesPath(file)]);
    expect(objects.map((o) => o.kind).sort()).toEqual(EXPECTED_KINDS[file]);
    const problems = (await Promise.all(objects.map((o) => manifestProblems(o)))).flat();
    expect(problems).toEqual([]);
    for (const o of objects) {
      expect(o.metadata.labels, `${o.kind}/${o.metadata.name}`).toMatchObject({
        'app.kubernetes.io/instance': RELEASE,
        'app.kubernetes.io/managed-by': 'Helm',
      });
      expect(o.metadata.labels?.['app.kubernetes.io/name'], `${o.kind}/${o.metadata.name}`).toMatch(/^auth-shim/);
    }
  });
});

describe.each(GOLDEN)('golden rendering of ci/%s', (file) => {
  it('matches test/chart/golden (UPDATE_GOLDEN=1 rewrites it)', async () => {
    const r = await helm(['template', RELEASE, CHART_DIR, '--namespace', 'auth-shim-system', '-f', ciValuesPath(file)]);
    expect(r.code).toBe(0);
    await expectGolden(join(import.meta.dirname, 'golden', file.replace('-values.yaml', '.yaml')), r.stdout);
  });
});

it('every values file in ci/ has its expected kinds listed here', () => {
  expect(CI_VALUES.sort()).toEqual(Object.keys(EXPECTED_KINDS).sort());
});
