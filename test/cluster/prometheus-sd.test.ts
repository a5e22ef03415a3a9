import { rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { request } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startFakeAnthropic, type FakeAnthropic } from '../../src/demo/fake-anthropic.js';
import { baseUrl, sidecarContainer, sidecarVolumes, type SidecarSettings } from '../../src/injector/sidecar.js';
import { find, renderChart } from '../chart/_render.js';
import { CHART_DIR } from '../helpers/helm.js';
import { LITELLM_KEY, OAUTH } from '../helpers/shim.js';
import { sidecarSettings } from '../helpers/sidecar-settings.js';
import {
  exposedSeries,
  prometheusWithKubernetesSd,
  ruleFile,
  shippedRuleGroups,
  startPrometheus,
  type RunningPrometheus,
} from '../telemetry/prometheus.js';
import {
  createNamespace,
  deleteNamespaces,
  KUBECONFIG,
  kube,
  nodeAddress,
  podJson,
  requireCluster,
  SHIM_IMAGE,
  tmp,
  waitFor,
} from './_cluster.js';
import { agentContainer, agentPodTemplate, AGENT_VOLUMES } from './_pods.js';

/*
 * A real Prometheus (built from the Go module proxy by test/telemetry/build-prometheus.sh: Debian's
 * package has no Kubernetes service discovery) on the host discovers injected sidecars with
 * `kubernetes_sd_configs` (role pod, the test cluster's kubeconfig) and scrapes them through their
 * pod IPs on the bridge, relabelled as prometheus-operator turns the chart's PodMonitor into a
 * scrape config (keep the named port, `namespace`/`pod`/`container` from the pod). Two pods carry
 * a mounted OAuth token in the credentials-JSON form, which states its expiry: one expired an hour
 * ago, one expires in 3 days. The shipped rules (the chart's PrometheusRule, as rule files) must
 * fire AuthShimOAuthTokenExpired for the first only and hold AuthShimOAuthTokenExpiringSoon
 * pending (`for: 1h`) for the second.
 */

const NS = 'auth-shim-prom-sd';
const NOW_MS = Date.now();
const PODS = { expired: NOW_MS - 3_600_000, 'near-expiry': NOW_MS + 3 * 86_400_000 } as const;
type PodName = keyof typeof PODS;

let dir: string;
let fake: FakeAnthropic;
let prometheus: RunningPrometheus | undefined;
let clusterUp = false;

function settings(pod: PodName, upstream: string): SidecarSettings {
  return sidecarSettings({
    image: SHIM_IMAGE,
    imagePullPolicy: 'Never',
    upstream,
    credentialSource: 'shim-only',
    secrets: [
      { slot: 'oauth', secretName: `${pod}-oauth`, key: 'oauth-token', volumeName: 'auth-shim-oauth-token' },
      { slot: 'litellmKey', secretName: 'litellm-key', key: 'litellm-key', volumeName: 'auth-shim-litellm-key' },
    ],
  });
}

function secret(name: string, key: string, value: string): object {
  return { apiVersion: 'v1', kind: 'Secret', metadata: { name, namespace: NS }, stringData: { [key]: value } };
}

/**
 * The scrape config prometheus-operator generates for the chart's PodMonitor (its port and path), limited to this
 * test's namespace.
 */
async function podMonitorScrapeConfig(): Promise<object> {
  const pm = find(await renderChart(['-f', join(CHART_DIR, 'ci', 'monitoring-values.yaml')]), 'PodMonitor');
  const endpoint = (pm['spec'] as { podMetricsEndpoints: Array<{ port: string; path: string; scheme: string }> })
    .podMetricsEndpoints[0];
  if (endpoint === undefined) throw new Error('the PodMonitor has no endpoint');
  return {
    job_name: `podMonitor/${NS}/${pm.metadata.name}/0`,
    scrape_interval: '1s',
    metrics_path: endpoint.path,
    scheme: endpoint.scheme,
    kubernetes_sd_configs: [{ role: 'pod', kubeconfig_file: KUBECONFIG, namespaces: { names: [NS] } }],
    relabel_configs: [
      { source_labels: ['__meta_kubernetes_pod_phase'], regex: '(Failed|Succeeded)', action: 'drop' },
      { source_labels: ['__meta_kubernetes_pod_container_port_name'], regex: endpoint.port, action: 'keep' },
      { source_labels: ['__meta_kubernetes_namespace'], target_label: 'namespace' },
      { source_labels: ['__meta_kubernetes_pod_container_name'], target_label: 'container' },
      { source_labels: ['__meta_kubernetes_pod_name'], target_label: 'pod' },
      { target_label: 'endpoint', replacement: endpoint.port },
    ],
  };
}

beforeAll(async () => {
  await requireCluster();
  clusterUp = true;
  await deleteNamespaces(NS);
  dir = await tmp('auth-shim-prom-sd-');
  fake = await startFakeAnthropic(await nodeAddress());
  await createNamespace(NS);
  const objects: object[] = [secret('litellm-key', 'litellm-key', LITELLM_KEY)];
  for (const [pod, expiresAt] of Object.entries(PODS) as Array<[PodName, number]>) {
    // `claude setup-token`'s credentials JSON: the sidecar takes the expiry from the mounted value.
    objects.push(
      secret(`${pod}-oauth`, 'oauth-token', JSON.stringify({ claudeAiOauth: { accessToken: OAUTH, expiresAt } })),
    );
    const s = settings(pod, fake.url);
    const template = agentPodTemplate(
      {},
      agentContainer({
        script: 'idle.mjs',
        env: [
          { name: 'ANTHROPIC_BASE_URL', value: baseUrl(s) },
          { name: 'ANTHROPIC_API_KEY', value: 'placeholder' },
        ],
      }),
    );
    const spec = template.spec as Record<string, unknown>;
    objects.push({
      apiVersion: 'v1',
      kind: 'Pod',
      metadata: { name: pod, namespace: NS },
      spec: { ...spec, initContainers: [sidecarContainer(s)], volumes: [...AGENT_VOLUMES, ...sidecarVolumes(s)] },
    });
  }
  await kube.kubectlOk(['apply', '-f', '-'], JSON.stringify({ apiVersion: 'v1', kind: 'List', items: objects }));
  await kube.kubectlOk(['-n', NS, 'wait', '--for=condition=Ready', 'pod/expired', 'pod/near-expiry', '--timeout=600s']);

  await writeFile(join(dir, 'rules.yaml'), ruleFile(await shippedRuleGroups()));
  prometheus = await startPrometheus(
    dir,
    {
      global: { scrape_interval: '1s', evaluation_interval: '1s' },
      rule_files: ['rules.yaml'],
      scrape_configs: [await podMonitorScrapeConfig()],
    },
    prometheusWithKubernetesSd(),
  );
}, 900_000);

afterAll(async () => {
  await prometheus?.stop();
  if (clusterUp) await deleteNamespaces(NS);
  await fake?.close();
  if (dir !== undefined) await rm(dir, { recursive: true, force: true });
}, 900_000);

function prom(): RunningPrometheus {
  if (prometheus === undefined) throw new Error('prometheus did not start');
  return prometheus;
}

interface Target {
  health: string;
  scrapeUrl: string;
  labels: Record<string, string>;
}

async function podIp(pod: PodName): Promise<string> {
  const ip = ((await podJson(NS, pod))['status'] as { podIP?: string }).podIP;
  if (ip === undefined) throw new Error(`${pod} has no pod IP`);
  return ip;
}

describe('a real Prometheus discovering injected sidecars in the test cluster', () => {
  it("discovers just the two sidecars' admin ports, scrapes their pod IPs, labelled with namespace, pod", async () => {
    let targets: Target[] = [];
    try {
      await waitFor(
        'both sidecars scraped',
        async () => {
          ({ activeTargets: targets } = await prom().get<{ activeTargets: Target[] }>('/api/v1/targets?state=active'));
          return targets.length === 2 && targets.every((t) => t.health === 'up') ? true : undefined;
        },
        120_000,
        500,
      );
    } catch (err) {
      throw new Error(`${(err as Error).message}: ${JSON.stringify(targets)}\n${await prom().logTail()}`);
    }
    const expected = await Promise.all(
      (Object.keys(PODS) as PodName[]).map(async (pod) => ({ pod, url: `http://${await podIp(pod)}:9464/metrics` })),
    );
    expect(
      targets
        .map((t) => ({ pod: t.labels['pod'], url: t.scrapeUrl }))
        .sort((a, b) => String(a.pod).localeCompare(String(b.pod))),
    ).toEqual(expected.sort((a, b) => a.pod.localeCompare(b.pod)));
    for (const t of targets)
      expect(t.labels).toMatchObject({ namespace: NS, container: 'auth-shim', endpoint: 'auth-shim-admin' });
  });

  it("each sidecar series is in Prometheus (+ namespace, pod); the expiry gauge holds the token's", async () => {
    for (const pod of Object.keys(PODS) as PodName[]) {
      const res = await request(`http://${await podIp(pod)}:9464/metrics`);
      expect(res.statusCode).toBe(200);
      const exposed = [...exposedSeries(await res.body.text()).keys()];
      const names = new Set(exposed.map((s) => s.replace(/\{.*$/, '')));
      expect(names).toContain('auth_shim_oauth_token_expiry_timestamp_seconds');
      const stored = await prom().get<Array<Record<string, string>>>(
        `/api/v1/series?match[]=${encodeURIComponent(
          `{namespace="${NS}",pod="${pod}",__name__=~"auth_shim_.*|process_.*|nodejs_.*"}`,
        )}`,
      );
      const storedNames = new Set(stored.map((s) => s['__name__']));
      // A series appears only after a scrape that saw it; names are what a query uses.
      expect(
        [...names].filter((n) => !storedNames.has(n)),
        `exposed by ${pod} but not in Prometheus`,
      ).toEqual([]);
      expect(
        [...storedNames].filter((n) => n !== undefined && !names.has(n)),
        `in Prometheus but not exposed by ${pod}`,
      ).toEqual([]);
      for (const s of stored)
        expect(s).toMatchObject({
          namespace: NS,
          pod,
          container: 'auth-shim',
          job: `podMonitor/${NS}/auth-shim-sidecars/0`,
        });
      const expiry = await prom().get<{ result: Array<{ value: [number, string] }> }>(
        `/api/v1/query?query=${encodeURIComponent(
          `auth_shim_oauth_token_expiry_timestamp_seconds{namespace="${NS}",pod="${pod}"}`,
        )}`,
      );
      expect(expiry.result).toHaveLength(1);
      expect(Number(expiry.result[0]?.value[1])).toBeCloseTo(PODS[pod] / 1000, 3);
    }
  });

  it('AuthShimOAuthTokenExpired fires only for the expired pod; AuthShimOAuthTokenExpiringSoon pends', async () => {
    interface Alert {
      labels: Record<string, string>;
      state: string;
    }
    let alerts: Alert[] = [];
    const active = (name: string, pod: PodName) =>
      alerts.find((a) => a.labels['alertname'] === name && a.labels['pod'] === pod);
    await waitFor(
      'the expiry alerts',
      async () => {
        ({ alerts } = await prom().get<{ alerts: Alert[] }>('/api/v1/alerts'));
        return active('AuthShimOAuthTokenExpired', 'expired')?.state === 'firing' &&
          active('AuthShimOAuthTokenExpiringSoon', 'near-expiry') !== undefined
          ? true
          : undefined;
      },
      120_000,
      500,
    ).catch((err: Error) => Promise.reject(new Error(`${err.message}: ${JSON.stringify(alerts)}`)));
    expect(active('AuthShimOAuthTokenExpired', 'expired')).toMatchObject({
      state: 'firing',
      labels: { namespace: NS, pod: 'expired', severity: 'critical' },
    });
    expect(active('AuthShimOAuthTokenExpiringSoon', 'near-expiry')).toMatchObject({
      state: 'pending',
      labels: { namespace: NS, pod: 'near-expiry', severity: 'warning' },
    });
    expect(active('AuthShimOAuthTokenExpired', 'near-expiry')).toBeUndefined();
  });
});
