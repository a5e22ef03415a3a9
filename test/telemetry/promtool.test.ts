import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { request } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import { exposedSeries, promtool, ruleFile, shippedRuleGroups, withLabels, type RuleGroup } from './prometheus.js';
import { runFederatedScript } from './federated-traffic.js';
import { runShimCredentialScript } from './scripted-traffic.js';

/*
 * Every shipped alert, unit-tested with Prometheus' own rule engine (`promtool test rules`, Debian's
 * prometheus package): each fires on the series that should raise it and stays quiet on the near
 * misses. The input series are the sidecar's real ones — every series named below must appear, with
 * exactly these labels, in the /metrics of a real shim after the scripted traffic of the golden test
 * — plus the target labels a PodMonitor scrape adds.
 */

const TARGET = {
  job: 'auth-shim',
  instance: '10.244.0.7:9464',
  namespace: 'agents',
  pod: 'claude-agent-0',
  container: 'auth-shim',
};
const OTHER_POD = { ...TARGET, instance: '10.244.0.8:9464', pod: 'claude-agent-1' };
const WHO = { namespace: TARGET.namespace, pod: TARGET.pod };

interface Input {
  /** A series exactly as the shim exposes it. */
  readonly series: string;
  /** promtool's expanding notation, one sample a minute. */
  readonly values: string;
  readonly target?: Record<string, string>;
}
interface Case {
  readonly alert: string;
  readonly name: string;
  readonly input: readonly Input[];
  readonly at: string;
  /** Expected firing alerts: their labels besides alertname, and the rendered summary (and description, when templated). */
  readonly fires: ReadonlyArray<{ labels: Record<string, string>; summary: string; description?: string }>;
}

const DAY = 86_400;
const CASES: Case[] = [
  {
    alert: 'AuthShimCredentialReloadFailing',
    name: 'a refused Secret keeps being re-read for 10 minutes',
    at: '25m',
    input: [
      { series: 'auth_shim_credential_reloads_total{slot="oauth",result="invalid"}', values: '0+2x40' },
      { series: 'auth_shim_credential_reloads_total{slot="litellm-key",result="unchanged"}', values: '0+2x40' },
    ],
    fires: [
      {
        labels: { ...WHO, slot: 'oauth', severity: 'warning' },
        summary: 'auth-shim in agents/claude-agent-0 cannot load its oauth credential',
        description:
          'The mounted Secret for oauth is missing, unreadable or holds the wrong kind of credential; the sidecar keeps the last good value (if any). Check the Secret and the auth-shim logs (event credential_rejected).',
      },
    ],
  },
  {
    alert: 'AuthShimCredentialReloadFailing',
    name: 'an old failure, fixed since: only loaded/unchanged reads for the last 10 minutes',
    at: '25m',
    input: [
      { series: 'auth_shim_credential_reloads_total{slot="oauth",result="invalid"}', values: '0 1 2 3 3x40' },
      { series: 'auth_shim_credential_reloads_total{slot="oauth",result="loaded"}', values: '1 1 1 1 2x40' },
      { series: 'auth_shim_credential_reloads_total{slot="oauth",result="unchanged"}', values: '0+2x40' },
    ],
    fires: [],
  },
  {
    alert: 'AuthShimOAuthTokenExpiringSoon',
    name: 'a token 7 days from expiry, for over an hour',
    at: '2h',
    input: [{ series: 'auth_shim_oauth_token_expiry_timestamp_seconds{slot="oauth"}', values: `${7 * DAY}x180` }],
    fires: [
      {
        labels: { ...WHO, severity: 'warning' },
        summary: 'The subscription OAuth token of agents/claude-agent-0 expires in 6d 22h 0m 0s',
      },
    ],
  },
  {
    alert: 'AuthShimOAuthTokenExpiringSoon',
    name: 'an unknown expiry (0) and a token 30 days from expiry',
    at: '2h',
    input: [
      { series: 'auth_shim_oauth_token_expiry_timestamp_seconds{slot="oauth"}', values: '0x180' },
      {
        series: 'auth_shim_oauth_token_expiry_timestamp_seconds{slot="oauth"}',
        values: `${30 * DAY}x180`,
        target: OTHER_POD,
      },
    ],
    fires: [],
  },
  {
    alert: 'AuthShimOAuthTokenExpired',
    name: 'a token past its expiry',
    at: '2h',
    input: [{ series: 'auth_shim_oauth_token_expiry_timestamp_seconds{slot="oauth"}', values: '3600x180' }],
    fires: [
      {
        labels: { ...WHO, severity: 'critical' },
        summary: 'The subscription OAuth token of agents/claude-agent-0 has expired',
      },
    ],
  },
  {
    alert: 'AuthShimOAuthTokenExpired',
    name: 'an unknown expiry (0) and a token expiring later',
    at: '2h',
    input: [
      { series: 'auth_shim_oauth_token_expiry_timestamp_seconds{slot="oauth"}', values: '0x180' },
      { series: 'auth_shim_oauth_token_expiry_timestamp_seconds{slot="oauth"}', values: '7300x180', target: OTHER_POD },
    ],
    fires: [],
  },
  {
    alert: 'AuthShimSubscriptionRejected',
    name: 'rejected, reset still ahead',
    at: '10m',
    input: [
      { series: 'auth_shim_ratelimit_unified_status{status="rejected"}', values: '1x20' },
      { series: 'auth_shim_ratelimit_unified_status{status="allowed"}', values: '0x20' },
      { series: 'auth_shim_ratelimit_unified_reset_timestamp_seconds', values: '100000x20' },
    ],
    fires: [
      {
        labels: { ...WHO, severity: 'warning' },
        summary: 'The Claude subscription used by agents/claude-agent-0 is rate-limited',
      },
    ],
  },
  {
    alert: 'AuthShimSubscriptionRejected',
    name: 'rejected long ago: the reset has passed (gauges keep their last value)',
    at: '10m',
    input: [
      { series: 'auth_shim_ratelimit_unified_status{status="rejected"}', values: '1x20' },
      { series: 'auth_shim_ratelimit_unified_reset_timestamp_seconds', values: '300x20' },
    ],
    fires: [],
  },
  {
    alert: 'AuthShimSubscriptionOverage',
    name: 'the binding claim is overage',
    at: '10m',
    input: [
      { series: 'auth_shim_ratelimit_unified_representative_claim{claim="overage"}', values: '1x20' },
      { series: 'auth_shim_ratelimit_unified_representative_claim{claim="five_hour"}', values: '0x20' },
    ],
    fires: [
      {
        labels: { ...WHO, severity: 'warning' },
        summary: 'The Claude subscription used by agents/claude-agent-0 is running on extra usage (overage)',
      },
    ],
  },
  {
    alert: 'AuthShimSubscriptionOverage',
    name: 'rejected while the overage window allows (another claim binds)',
    at: '10m',
    input: [
      { series: 'auth_shim_ratelimit_unified_status{status="rejected"}', values: '1x20' },
      { series: 'auth_shim_ratelimit_unified_window_status{window="overage",status="allowed"}', values: '1x20' },
      { series: 'auth_shim_ratelimit_unified_representative_claim{claim="five_hour"}', values: '1x20' },
    ],
    fires: [
      {
        labels: { ...WHO, severity: 'warning' },
        summary: 'The Claude subscription used by agents/claude-agent-0 is running on extra usage (overage)',
      },
    ],
  },
  {
    alert: 'AuthShimSubscriptionOverage',
    name: 'rejected with overage rejected too; claim five_hour',
    at: '10m',
    input: [
      { series: 'auth_shim_ratelimit_unified_status{status="rejected"}', values: '1x20' },
      { series: 'auth_shim_ratelimit_unified_window_status{window="overage",status="rejected"}', values: '1x20' },
      { series: 'auth_shim_ratelimit_unified_window_status{window="overage",status="allowed"}', values: '0x20' },
      { series: 'auth_shim_ratelimit_unified_representative_claim{claim="overage"}', values: '0x20' },
      { series: 'auth_shim_ratelimit_unified_representative_claim{claim="five_hour"}', values: '1x20' },
    ],
    fires: [],
  },
  {
    alert: 'AuthShimSubscriptionNearLimit',
    name: '95 % of the 5-hour window, reset ahead',
    at: '10m',
    input: [
      { series: 'auth_shim_ratelimit_unified_utilization_ratio{window="5h"}', values: '0.95x20' },
      { series: 'auth_shim_ratelimit_unified_window_reset_timestamp_seconds{window="5h"}', values: '100000x20' },
      { series: 'auth_shim_ratelimit_unified_utilization_ratio{window="7d"}', values: '0.3x20' },
      { series: 'auth_shim_ratelimit_unified_window_reset_timestamp_seconds{window="7d"}', values: '600000x20' },
    ],
    fires: [
      {
        labels: { ...WHO, window: '5h', severity: 'info' },
        summary: 'agents/claude-agent-0 has used 95% of its 5h subscription window',
      },
    ],
  },
  {
    alert: 'AuthShimSubscriptionNearLimit',
    name: 'overage at 95 % (not a plan window), 5h at 95 % but already reset',
    at: '10m',
    input: [
      { series: 'auth_shim_ratelimit_unified_utilization_ratio{window="overage"}', values: '0.95x20' },
      { series: 'auth_shim_ratelimit_unified_window_reset_timestamp_seconds{window="overage"}', values: '100000x20' },
      { series: 'auth_shim_ratelimit_unified_utilization_ratio{window="5h"}', values: '0.95x20' },
      { series: 'auth_shim_ratelimit_unified_window_reset_timestamp_seconds{window="5h"}', values: '60x20' },
    ],
    fires: [],
  },
  {
    alert: 'AuthShimUpstreamErrorRatioHigh',
    name: '1 in 10 requests fails upstream for 20 minutes',
    at: '20m',
    input: [
      { series: 'auth_shim_requests_total{code="200",credential="oauth"}', values: '0+9x30' },
      { series: 'auth_shim_requests_total{code="502",credential="oauth"}', values: '0+1x30' },
      { series: 'auth_shim_upstream_errors_total{reason="upstream_reset"}', values: '0+1x30' },
    ],
    fires: [
      {
        labels: { ...WHO, severity: 'warning' },
        summary: '10% of requests from agents/claude-agent-0 fail on the way to the upstream',
      },
    ],
  },
  {
    alert: 'AuthShimUpstreamErrorRatioHigh',
    name: '1 in 50 fails (below 5 %); earlier errors no longer counted',
    at: '20m',
    input: [
      { series: 'auth_shim_requests_total{code="200",credential="oauth"}', values: '0+49x30' },
      { series: 'auth_shim_upstream_errors_total{reason="upstream_reset"}', values: '0+1x30' },
      { series: 'auth_shim_upstream_errors_total{reason="upstream_unreachable"}', values: '7x30' },
    ],
    fires: [],
  },
  {
    alert: 'AuthShimNoSuccessfulRequests',
    name: 'requests keep arriving, none succeeds',
    at: '25m',
    input: [
      { series: 'auth_shim_requests_total{code="502",credential="oauth"}', values: '0+1x40' },
      { series: 'auth_shim_requests_total{code="200",credential="oauth"}', values: '5x40' },
    ],
    fires: [
      {
        labels: { ...WHO, severity: 'critical' },
        summary: 'No request from agents/claude-agent-0 has succeeded for 15 minutes',
      },
    ],
  },
  {
    alert: 'AuthShimNoSuccessfulRequests',
    name: 'errors, but some requests succeed; an idle pod',
    at: '25m',
    input: [
      { series: 'auth_shim_requests_total{code="502",credential="oauth"}', values: '0+1x40' },
      { series: 'auth_shim_requests_total{code="200",credential="oauth"}', values: '0+1x40' },
      { series: 'auth_shim_requests_total{code="200",credential="oauth"}', values: '3x40', target: OTHER_POD },
    ],
    fires: [],
  },
];

const HOUR = 3_600;
CASES.push(
  {
    alert: 'AuthShimFederationNoValidToken',
    name: 'the token expired and no exchange has succeeded since',
    at: '2h',
    input: [{ series: 'auth_shim_federation_token_expiry_timestamp_seconds', values: `${HOUR}x180` }],
    fires: [
      {
        labels: { ...WHO, severity: 'critical' },
        summary: 'auth-shim in agents/claude-agent-0 holds no valid Workload Identity Federation token',
      },
    ],
  },
  {
    alert: 'AuthShimFederationNoValidToken',
    name: 'never a token (0 since start)',
    at: '10m',
    input: [{ series: 'auth_shim_federation_token_expiry_timestamp_seconds', values: '0x20' }],
    fires: [
      {
        labels: { ...WHO, severity: 'critical' },
        summary: 'auth-shim in agents/claude-agent-0 holds no valid Workload Identity Federation token',
      },
    ],
  },
  {
    alert: 'AuthShimFederationNoValidToken',
    name: 'hourly refreshes keep the expiry ahead; an expiry briefly passed (1 min) is not yet an alert',
    at: '3h',
    input: [
      // Refreshed at 55 min of every hour: the expiry steps ahead by an hour each time.
      {
        series: 'auth_shim_federation_token_expiry_timestamp_seconds',
        values: `${HOUR}x55 ${2 * HOUR}x60 ${3 * HOUR}x60 ${4 * HOUR}x20`,
      },
      {
        series: 'auth_shim_federation_token_expiry_timestamp_seconds',
        values: `${3 * HOUR - 60}x180`,
        target: OTHER_POD,
      },
    ],
    fires: [],
  },
  {
    alert: 'AuthShimFederationExchangesFailing',
    name: 'a refresh keeps being refused for 15 minutes',
    at: '30m',
    input: [
      { series: 'auth_shim_federation_exchanges_total{result="success"}', values: '1x15 1x30' },
      { series: 'auth_shim_federation_exchanges_total{result="refused"}', values: '0x15 0+2x30' },
    ],
    fires: [
      {
        labels: { ...WHO, severity: 'warning' },
        summary: 'Workload Identity Federation token exchanges of agents/claude-agent-0 are failing',
      },
    ],
  },
  {
    alert: 'AuthShimFederationExchangesFailing',
    name: 'a refused exchange followed by a success (retried in time), and steady hourly successes',
    at: '30m',
    input: [
      { series: 'auth_shim_federation_exchanges_total{result="success"}', values: '1x20 2x20' },
      { series: 'auth_shim_federation_exchanges_total{result="refused"}', values: '0x18 1 2x21' },
      { series: 'auth_shim_federation_exchanges_total{result="success"}', values: '1x40', target: OTHER_POD },
    ],
    fires: [],
  },
);

let groups: RuleGroup[];
let exposed: Map<string, number>;
let dir: string;

beforeAll(async () => {
  groups = await shippedRuleGroups();
  dir = await mkdtemp(join(tmpdir(), 'auth-shim-promtool-'));
  const { shim } = await runShimCredentialScript();
  try {
    const res = await request(`${shim.proxy.adminUrl}/metrics`, { dispatcher: shim.client });
    exposed = exposedSeries(await res.body.text());
  } finally {
    await shim.close();
  }
  // Federation's series exist only in a sidecar with Workload Identity Federation (issue 17).
  const federated = await runFederatedScript();
  try {
    const res = await request(`${federated.shim.proxy.adminUrl}/metrics`, { dispatcher: federated.shim.client });
    for (const [series, value] of exposedSeries(await res.body.text())) exposed.set(series, value);
  } finally {
    await federated.close();
  }
}, 60_000);

afterAll(async () => {
  if (dir !== undefined) await rm(dir, { recursive: true, force: true });
});

function testFile(rules: string, cases: readonly Case[]): string {
  const byRule = new Map(groups.flatMap((g) => g.rules).map((r) => [r.alert, r]));
  return stringify({
    rule_files: [rules],
    evaluation_interval: '1m',
    tests: cases.map((c) => ({
      name: `${c.alert}: ${c.name}`,
      interval: '1m',
      input_series: c.input.map((i) => ({ series: withLabels(i.series, i.target ?? TARGET), values: i.values })),
      alert_rule_test: [
        {
          eval_time: c.at,
          alertname: c.alert,
          exp_alerts: c.fires.map((f) => ({
            exp_labels: f.labels,
            exp_annotations: {
              summary: f.summary,
              description: f.description ?? byRule.get(c.alert)?.annotations?.['description'],
            },
          })),
        },
      ],
    })),
  });
}

async function runTests(rules: readonly RuleGroup[], cases: readonly Case[]): Promise<{ code: number; out: string }> {
  await writeFile(join(dir, 'rules.yaml'), ruleFile(rules));
  await writeFile(join(dir, 'tests.yaml'), testFile('rules.yaml', cases));
  return promtool(['test', 'rules', 'tests.yaml'], dir);
}

describe('the shipped alerts under promtool (Prometheus rule engine)', () => {
  it('promtool check rules accepts the shipped rule groups', async () => {
    await writeFile(join(dir, 'check.yaml'), ruleFile(groups));
    const r = await promtool(['check', 'rules', 'check.yaml'], dir);
    expect(r.out).toContain(`SUCCESS: ${groups.flatMap((g) => g.rules).length} rules found`);
    expect(r.code).toBe(0);
  });

  it('every shipped alert has a firing and a quiet case here', () => {
    const alerts = groups.flatMap((g) => g.rules.map((r) => r.alert)).sort();
    expect([...new Set(CASES.filter((c) => c.fires.length > 0).map((c) => c.alert))].sort()).toEqual(alerts);
    expect([...new Set(CASES.filter((c) => c.fires.length === 0).map((c) => c.alert))].sort()).toEqual(alerts);
  });

  it('every input series is one the real shim exposes, with exactly these labels', () => {
    const missing = CASES.flatMap((c) => c.input.map((i) => i.series)).filter((s) => !exposed.has(s));
    expect([...new Set(missing)]).toEqual([]);
  });

  it('promtool test rules: every case passes', async () => {
    const r = await runTests(groups, CASES);
    expect(r.out).toContain('SUCCESS');
    expect(r.code).toBe(0);
  });

  it('the cases can fail: a rule with a wrong threshold or matcher fails them', async () => {
    const mutate = (alert: string, change: (r: RuleGroup['rules'][number]) => void): RuleGroup[] => {
      const copy = structuredClone(groups);
      for (const r of copy.flatMap((g) => g.rules)) if (r.alert === alert) change(r);
      return copy;
    };
    const expiry = CASES.filter((c) => c.alert === 'AuthShimOAuthTokenExpiringSoon');
    const narrower = await runTests(
      mutate('AuthShimOAuthTokenExpiringSoon', (r) => (r.expr = r.expr.replace('14 * 86400', '1 * 86400'))),
      expiry,
    );
    expect(narrower.code).not.toBe(0);
    const reload = CASES.filter((c) => c.alert === 'AuthShimCredentialReloadFailing');
    const wider = await runTests(
      mutate(
        'AuthShimCredentialReloadFailing',
        (r) => (r.expr = r.expr.replace('invalid|missing|error', 'invalid|missing|error|unchanged')),
      ),
      reload,
    );
    expect(wider.code).not.toBe(0);
    const federation = CASES.filter((c) => c.alert === 'AuthShimFederationNoValidToken');
    const early = await runTests(
      mutate('AuthShimFederationNoValidToken', (r) => (r.expr = r.expr.replace('<= 0', '<= 3600'))),
      federation,
    );
    expect(early.code).not.toBe(0);
  });
});
