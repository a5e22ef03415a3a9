import { existsSync } from 'node:fs';
import { stringify } from 'yaml';
import { find, renderChart } from '../chart/_render.js';
import { CHART_DIR } from '../helpers/helm.js';
import { run } from '../controlplane/cluster.js';
import { join } from 'node:path';

/**
 * Debian's `prometheus` package (prometheus + promtool), installed by .ci/run. Missing is a
 * failure, not a skip: the alert tests would otherwise pass on every machine without it.
 */
export function prometheusBinary(name: 'prometheus' | 'promtool'): string {
  const bin = process.env[name === 'promtool' ? 'PROMTOOL' : 'PROMETHEUS'] ?? `/usr/bin/${name}`;
  if (!existsSync(bin)) throw new Error(`${name} is not installed (${bin}): apt-get install prometheus (.ci/run does)`);
  return bin;
}

export async function promtool(args: readonly string[], cwd?: string): Promise<{ code: number; out: string }> {
  const r = await run(prometheusBinary('promtool'), args, cwd === undefined ? {} : { cwd });
  return { code: r.code, out: r.stdout + r.stderr };
}

export interface RuleGroup {
  name: string;
  rules: Array<{
    alert: string;
    expr: string;
    for?: string;
    labels?: Record<string, string>;
    annotations?: Record<string, string>;
  }>;
}

/** The rule groups of the PrometheusRule the chart ships (rendered with the monitoring values). */
export async function shippedRuleGroups(): Promise<RuleGroup[]> {
  const objects = await renderChart(['-f', join(CHART_DIR, 'ci', 'monitoring-values.yaml')]);
  return (find(objects, 'PrometheusRule')['spec'] as { groups: RuleGroup[] }).groups;
}

/** A Prometheus rule file (what `rule_files` and promtool read) holding `groups`. */
export function ruleFile(groups: readonly RuleGroup[]): string {
  return stringify({ groups });
}

/**
 * The samples of an exposition, keyed by series as exposed: `name` or `name{a="x",b="y"}`.
 * Comments and timestamps are dropped.
 */
export function exposedSeries(text: string): Map<string, number> {
  const out = new Map<string, number>();
  for (const line of text.split('\n')) {
    if (line === '' || line.startsWith('#')) continue;
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*(?:\{.*\})?) (\S+)/.exec(line);
    if (m?.[1] !== undefined && m[2] !== undefined) out.set(m[1], Number(m[2]));
  }
  return out;
}

/** `series` with extra labels, as a scrape's target labels (namespace, pod, job…) add them. */
export function withLabels(series: string, labels: Record<string, string>): string {
  const extra = Object.entries(labels)
    .map(([k, v]) => `${k}=${JSON.stringify(v)}`)
    .join(',');
  const open = series.indexOf('{');
  return open === -1 ? `${series}{${extra}}` : `${series.slice(0, -1)},${extra}}`;
}
