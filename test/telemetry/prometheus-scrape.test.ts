import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parser } from '@prometheus-io/lezer-promql';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startFakeAnthropic, type FakeAnthropic } from '../../src/demo/fake-anthropic.js';
import { runCli, type ChildShim } from '../helpers/child.js';
import { eventually, LITELLM_KEY, OAUTH, type Shim } from '../helpers/shim.js';
import { ruleFile, shippedRuleGroups, startPrometheus, type RunningPrometheus } from './prometheus.js';
import { substituteGrafanaVariables } from './promql.js';
import { runShimCredentialScript } from './scripted-traffic.js';

/*
 * A real Prometheus (Debian's package) on loopback scrapes two real shims and evaluates the shipped
 * rules: the shim of the golden test's scripted traffic, whose OAuth token expires in 3 days, and a
 * shim process (dist/cli.js, with its process metrics) whose token has expired. Target labels stand
 * in for what a PodMonitor's relabelling adds (namespace, pod); the in-cluster
 * kubernetes_sd_configs scrape of injected sidecars is test/cluster/prometheus-sd.test.ts.
 */

const NOW_S = Math.floor(Date.now() / 1000);
const NEAR = { namespace: 'agents', pod: 'near-expiry' };
const EXPIRED = { namespace: 'agents', pod: 'expired' };

let dir: string;
let scripted: Shim;
let cliShim: ChildShim;
let upstream: FakeAnthropic;
let prometheus: RunningPrometheus | undefined;

function getJson<T>(path: string): Promise<T> {
  if (prometheus === undefined) throw new Error('prometheus did not start');
  return prometheus.get<T>(path);
}

const port = (url: string): string => new URL(url).port;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'auth-shim-prometheus-'));
  ({ shim: scripted } = await runShimCredentialScript({
    AUTH_SHIM_OAUTH_TOKEN_EXPIRES_AT: new Date((NOW_S + 3 * 86_400) * 1000).toISOString(),
  }));

  upstream = await startFakeAnthropic();
  await writeFile(join(dir, 'oauth'), `${OAUTH}\n`);
  await writeFile(join(dir, 'litellm'), `${LITELLM_KEY}\n`);
  cliShim = runCli(['proxy'], {
    AUTH_SHIM_UPSTREAM_URL: upstream.url,
    AUTH_SHIM_LISTEN: '127.0.0.1:0',
    AUTH_SHIM_ADMIN_LISTEN: '127.0.0.1:0',
    AUTH_SHIM_OAUTH_TOKEN_FILE: join(dir, 'oauth'),
    AUTH_SHIM_LITELLM_KEY_FILE: join(dir, 'litellm'),
    AUTH_SHIM_OAUTH_TOKEN_EXPIRES_AT: new Date((NOW_S - 3600) * 1000).toISOString(),
  });
  const cli = await Promise.race([
    cliShim.listening,
    cliShim.exited.then((e) => Promise.reject(new Error(`shim exited ${String(e.code)}: ${cliShim.stderr.join('')}`))),
  ]);

  await writeFile(join(dir, 'rules.yaml'), ruleFile(await shippedRuleGroups()));
  prometheus = await startPrometheus(dir, {
    global: { scrape_interval: '1s', evaluation_interval: '1s' },
    rule_files: ['rules.yaml'],
    scrape_configs: [
      {
        job_name: 'auth-shim',
        static_configs: [
          { targets: [`127.0.0.1:${port(scripted.proxy.adminUrl)}`], labels: NEAR },
          { targets: [`127.0.0.1:${port(cli.admin)}`], labels: EXPIRED },
        ],
      },
    ],
  });
}, 120_000);

afterAll(async () => {
  await prometheus?.stop();
  if (cliShim !== undefined && cliShim.child.exitCode === null) {
    cliShim.child.kill('SIGTERM');
    await cliShim.exited;
  }
  await upstream?.close();
  await scripted?.close();
  if (dir !== undefined) await rm(dir, { recursive: true, force: true });
}, 30_000);

interface Alert {
  labels: Record<string, string>;
  state: 'pending' | 'firing';
}

describe('a real Prometheus scraping real shims', () => {
  it('scrapes both targets', async () => {
    await eventually(async () => {
      const { activeTargets } = await getJson<{ activeTargets: Array<{ health: string }> }>('/api/v1/targets');
      return activeTargets.length === 2 && activeTargets.every((t) => t.health === 'up');
    }, 30_000);
  });

  it('AuthShimOAuthTokenExpired fires for the expired pod only; AuthShimOAuthTokenExpiringSoon pends', async () => {
    let alerts: Alert[] = [];
    const active = (name: string, pod: string) =>
      alerts.find((a) => a.labels['alertname'] === name && a.labels['pod'] === pod);
    await eventually(async () => {
      ({ alerts } = await getJson<{ alerts: Alert[] }>('/api/v1/alerts'));
      return (
        active('AuthShimOAuthTokenExpired', EXPIRED.pod)?.state === 'firing' &&
        active('AuthShimOAuthTokenExpiringSoon', NEAR.pod) !== undefined
      );
    }, 30_000);
    expect(active('AuthShimOAuthTokenExpired', EXPIRED.pod)).toMatchObject({
      state: 'firing',
      labels: { ...EXPIRED, severity: 'critical' },
    });
    expect(active('AuthShimOAuthTokenExpiringSoon', NEAR.pod)).toMatchObject({
      state: 'pending',
      labels: { ...NEAR, severity: 'warning' },
    });
    expect(active('AuthShimOAuthTokenExpired', NEAR.pod)).toBeUndefined();
    // The 429 of the scripted traffic left the subscription rejected with its reset in 2026: stale, so quiet.
    expect(active('AuthShimSubscriptionRejected', NEAR.pod)).toBeUndefined();
  });

  it('every selector of every dashboard query matches series in the real scrape, with every `by` label', async () => {
    const dashboard = JSON.parse(
      await readFile(new URL('../../charts/auth-shim/files/grafana-dashboard.json', import.meta.url), 'utf8'),
    ) as { panels: Panel[] };
    const exprs = dashboard.panels.flatMap(function targets(p: Panel): string[] {
      return [
        ...(p.targets ?? []).map((t) => t.expr).filter((e): e is string => e !== undefined),
        ...(p.panels ?? []).flatMap(targets),
      ];
    });
    expect(exprs.length).toBeGreaterThan(0);
    const problems: string[] = [];
    const allGrouping = new Set<string>();
    for (const raw of exprs) {
      const expr = substituteGrafanaVariables(raw).replaceAll('$namespace', '.+').replaceAll('$pod', '.+');
      const { selectors, grouping } = selectorsAndGrouping(expr);
      if (selectors.length === 0) problems.push(`no selector found in ${raw}`);
      for (const g of grouping) allGrouping.add(g);
      const labels = new Set<string>();
      for (const s of selectors) {
        const series = await getJson<Array<Record<string, string>>>(`/api/v1/series?match[]=${encodeURIComponent(s)}`);
        if (series.length === 0) problems.push(`${s}: no series (in ${raw})`);
        for (const x of series) for (const k of Object.keys(x)) labels.add(k);
      }
      for (const g of grouping)
        if (!labels.has(g)) problems.push(`by (${g}): no such label on ${selectors.join(', ')}`);
    }
    expect(problems).toEqual([]);
    // The checks are real: the grouping labels were found, and a misspelt name or label value matches nothing.
    expect([...allGrouping].sort()).toEqual(expect.arrayContaining(['code', 'le', 'pod', 'slot', 'window']));
    expect(await getJson<unknown[]>(`/api/v1/series?match[]=${encodeURIComponent('auth_shim_request_total')}`)).toEqual(
      [],
    );
    expect(
      await getJson<unknown[]>(
        `/api/v1/series?match[]=${encodeURIComponent('auth_shim_tokens_total{type="cache_reads"}')}`,
      ),
    ).toEqual([]);
  });
});

interface Panel {
  targets?: Array<{ expr?: string }>;
  panels?: Panel[];
}

/** The vector selectors (as text) and `by (…)` labels of a PromQL expression, with Prometheus' own grammar. */
function selectorsAndGrouping(expr: string): { selectors: string[]; grouping: string[] } {
  const selectors: string[] = [];
  const grouping: string[] = [];
  parser.parse(expr).iterate({
    enter(node) {
      if (node.name === 'VectorSelector') selectors.push(expr.slice(node.from, node.to));
      if (node.name === 'LabelName' && node.node.parent?.name === 'GroupingLabels')
        grouping.push(expr.slice(node.from, node.to));
    },
  });
  return { selectors, grouping };
}
