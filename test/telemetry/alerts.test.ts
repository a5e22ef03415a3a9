import { readFile } from 'node:fs/promises';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { manifestProblems } from '../chart/_validate.js';
import { exportedSeriesNames, parsePromql } from './promql.js';

const FILE = new URL('../../charts/auth-shim/files/prometheus-rules.yaml', import.meta.url);

interface AlertRule {
  alert: string;
  expr: string;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
}

async function load(): Promise<{ doc: unknown; rules: AlertRule[] }> {
  const doc = parse(await readFile(FILE, 'utf8')) as { spec: { groups: Array<{ rules: AlertRule[] }> } };
  return { doc, rules: doc.spec.groups.flatMap((g) => g.rules) };
}

describe('PrometheusRule (charts/auth-shim/files/prometheus-rules.yaml)', () => {
  it('is a valid monitoring.coreos.com/v1 PrometheusRule (the published prometheus-operator CRD)', async () => {
    const { doc } = await load();
    expect(await manifestProblems(doc as Record<string, unknown>)).toEqual([]);
  });

  it('the schema check is real: a broken rule is refused', async () => {
    const { doc } = await load();
    const broken = structuredClone(doc) as { spec: { groups: Array<{ rules: unknown[] }> } };
    (broken.spec.groups[0] as { rules: unknown[] }).rules.push({ alert: 'X', expr: 'up', for: 'ten minutes' });
    expect((await manifestProblems(broken)).join('\n')).toMatch(
      /\/spec\/groups\/0\/rules\/\d+\/for must match pattern/,
    );
  });

  it('covers the alerts the issue asks for', async () => {
    const { rules } = await load();
    expect(rules.map((r) => r.alert).sort()).toEqual([
      'AuthShimCredentialReloadFailing',
      'AuthShimFederationExchangesFailing',
      'AuthShimFederationNoValidToken',
      'AuthShimNoSuccessfulRequests',
      'AuthShimOAuthTokenExpired',
      'AuthShimOAuthTokenExpiringSoon',
      'AuthShimSubscriptionNearLimit',
      'AuthShimSubscriptionOverage',
      'AuthShimSubscriptionRejected',
      'AuthShimUpstreamErrorRatioHigh',
    ]);
    for (const r of rules) {
      expect(r.labels?.severity, r.alert).toMatch(/^(critical|warning|info)$/);
      expect(r.annotations?.summary, r.alert).toBeTruthy();
    }
  });

  it('every expression parses with the Prometheus PromQL grammar and uses only metrics the shim exports', async () => {
    const { rules } = await load();
    const known = exportedSeriesNames();
    for (const r of rules) {
      const parsed = parsePromql(r.expr);
      expect(parsed.errors, `${r.alert}: ${r.expr}`).toEqual([]);
      expect(parsed.metrics.length, r.alert).toBeGreaterThan(0);
      for (const m of parsed.metrics) expect(known.has(m), `${r.alert} uses unknown metric ${m}`).toBe(true);
    }
  });

  it('the parser check is real: a broken expression has error nodes', () => {
    expect(parsePromql('sum(rate(auth_shim_requests_total[5m])').errors).not.toEqual([]);
    expect(parsePromql('auth_shim_requests_total > > 1').errors).not.toEqual([]);
  });
});
