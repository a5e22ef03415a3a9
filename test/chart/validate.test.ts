import { describe, expect, it } from 'vitest';
import { manifestProblems } from './_validate.js';

/** The validator used on every rendered object must itself reject what it exists to catch. */
describe('manifestProblems', () => {
  const deployment = {
    apiVersion: 'apps/v1',
    kind: 'Deployment',
    metadata: { name: 'x' },
    spec: {
      selector: { matchLabels: { a: 'b' } },
      template: { metadata: { labels: { a: 'b' } }, spec: { containers: [{ name: 'c', image: 'i' }] } },
    },
  };

  it('accepts a valid Deployment', async () => {
    expect(await manifestProblems(deployment)).toEqual([]);
  });

  it('rejects a wrong type and a misspelt field in a built-in kind', async () => {
    const bad = structuredClone(deployment) as Record<string, any>;
    bad['spec'].replicas = 'two';
    bad['spec'].template.spec.containers[0].imagePullPolicyy = 'Always';
    const problems = await manifestProblems(bad);
    expect(problems.join('\n')).toMatch(/replicas must be integer/);
    expect(problems.join('\n')).toContain('unknown field /spec/template/spec/containers/0/imagePullPolicyy');
  });

  it('rejects a wrong type in a CRD (Prometheus Operator, cert-manager, Flux)', async () => {
    expect(
      await manifestProblems({
        apiVersion: 'monitoring.coreos.com/v1',
        kind: 'ServiceMonitor',
        metadata: { name: 'x' },
        spec: { selector: {}, endpoints: [{ port: 9464 }] },
      }),
    ).not.toEqual([]);
    expect(
      await manifestProblems({
        apiVersion: 'cert-manager.io/v1',
        kind: 'Certificate',
        metadata: { name: 'x' },
        spec: { secretName: 's', issuerRef: {} },
      }),
    ).not.toEqual([]);
    expect(
      await manifestProblems({
        apiVersion: 'helm.toolkit.fluxcd.io/v2',
        kind: 'HelmRelease',
        metadata: { name: 'x' },
        spec: { interval: 5 },
      }),
    ).not.toEqual([]);
  });

  it("rejects a misspelt field in a CRD, as the API server's strict field validation does", async () => {
    const problems = await manifestProblems({
      apiVersion: 'source.toolkit.fluxcd.io/v1',
      kind: 'HelmRepository',
      metadata: { name: 'x' },
      spec: { url: 'oci://example.com/charts', type: 'oci', intervall: '1h' },
    });
    expect(problems.join('\n')).toContain('(intervall)');
  });

  it('checks Flux GA kinds against their own version, not an older one', async () => {
    expect(
      await manifestProblems({
        apiVersion: 'helm.toolkit.fluxcd.io/v2',
        kind: 'HelmRelease',
        metadata: { name: 'x' },
        spec: { interval: '5m', chartRef: { kind: 'OCIRepository', name: 'x' } },
      }),
    ).toEqual([]);
    expect(
      await manifestProblems({ apiVersion: 'helm.toolkit.fluxcd.io/v9', kind: 'HelmRelease', metadata: { name: 'x' } }),
    ).toHaveLength(1);
  });

  it('reports a kind it has no schema for instead of passing it', async () => {
    expect(
      await manifestProblems({ apiVersion: 'example.com/v1', kind: 'Widget', metadata: { name: 'x' } }),
    ).toHaveLength(1);
  });
});
