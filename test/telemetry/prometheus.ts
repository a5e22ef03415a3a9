import { spawn } from 'node:child_process';
import { closeSync, existsSync, openSync, readFileSync } from 'node:fs';
import { readFile, writeFile } from 'node:fs/promises';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { request } from 'undici';
import { stringify } from 'yaml';
import { find, renderChart } from '../chart/_render.js';
import { freePort, run } from '../controlplane/cluster.js';
import { CHART_DIR } from '../helpers/helm.js';
import { eventually } from '../helpers/shim.js';

/**
 * Debian's `prometheus` package (prometheus + promtool), installed by .ci/run. Missing is a
 * failure, not a skip: the alert tests would otherwise pass on every machine without it.
 */
export function prometheusBinary(name: 'prometheus' | 'promtool'): string {
  const bin = process.env[name === 'promtool' ? 'PROMTOOL' : 'PROMETHEUS'] ?? `/usr/bin/${name}`;
  if (!existsSync(bin)) throw new Error(`${name} is not installed (${bin}): apt-get install prometheus (.ci/run does)`);
  return bin;
}

/**
 * Prometheus with Kubernetes service discovery, built by test/telemetry/build-prometheus.sh (Debian's
 * build leaves `kubernetes_sd_configs` out). Missing is a failure, not a skip.
 */
export function prometheusWithKubernetesSd(): string {
  const script = join(import.meta.dirname, 'build-prometheus.sh');
  const version = /^version="([^"]+)"/m.exec(readFileSync(script, 'utf8'))?.[1];
  const bin = join(
    process.env['AUTH_SHIM_CACHE'] ?? join(homedir(), '.cache', 'auth-shim'),
    'prometheus',
    'bin',
    `prometheus-${version ?? '?'}`,
  );
  if (!existsSync(bin))
    throw new Error(
      `Prometheus with Kubernetes SD is not built (${bin}): run \`bash test/telemetry/build-prometheus.sh\` ` +
        '(Go; see docs/KUBERNETES.md for the cold cost)',
    );
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

export interface RunningPrometheus {
  /** `http://127.0.0.1:<port>`, the HTTP API's origin. */
  readonly api: string;
  /** `GET <api><path>`: the `data` of a successful answer, else an error naming the answer. */
  get<T>(path: string): Promise<T>;
  /** The last lines of its log (for failure messages). */
  logTail(): Promise<string>;
  stop(): Promise<void>;
}

/**
 * A real Prometheus on 127.0.0.1:<free port> with `config` (written as `dir/prometheus.yml`, so
 * relative `rule_files` resolve in `dir`) and its TSDB in `dir/data`; resolves once `/-/ready`
 * answers 200. `binary`: Debian's unless told.
 */
export async function startPrometheus(
  dir: string,
  config: unknown,
  binary: string = prometheusBinary('prometheus'),
): Promise<RunningPrometheus> {
  await writeFile(join(dir, 'prometheus.yml'), stringify(config));
  const webPort = await freePort();
  const api = `http://127.0.0.1:${webPort}`;
  const logFile = join(dir, 'prometheus.log');
  const log = openSync(logFile, 'a');
  const child = spawn(
    binary,
    [
      `--config.file=${join(dir, 'prometheus.yml')}`,
      `--storage.tsdb.path=${join(dir, 'data')}`,
      `--web.listen-address=127.0.0.1:${webPort}`,
    ],
    { stdio: ['ignore', log, log] },
  );
  closeSync(log);
  const exited = new Promise<void>((r) => child.on('exit', () => r()));
  const logTail = async () => (await readFile(logFile, 'utf8').catch(() => '')).slice(-3000);
  const stop = async () => {
    if (child.exitCode !== null || child.signalCode !== null) return;
    child.kill('SIGTERM');
    const t = setTimeout(() => child.kill('SIGKILL'), 10_000);
    await exited;
    clearTimeout(t);
  };
  const get = async <T>(path: string): Promise<T> => {
    const res = await request(`${api}${path}`);
    const body = (await res.body.json()) as { status: string; data: T };
    if (res.statusCode !== 200 || body.status !== 'success')
      throw new Error(`${path}: ${res.statusCode} ${JSON.stringify(body)}`);
    return body.data;
  };
  try {
    await eventually(
      async () =>
        (await request(`${api}/-/ready`)
          .then(async (r) => (await r.body.text(), r.statusCode))
          .catch(() => 0)) === 200 || child.exitCode !== null,
      60_000,
    );
    if (child.exitCode !== null) throw new Error('exited');
  } catch (err) {
    await stop();
    throw new Error(`prometheus did not become ready (${(err as Error).message}):\n${await logTail()}`);
  }
  return { api, get, logTail, stop };
}
