import { readFile } from 'node:fs/promises';
import { describe, expect, it } from 'vitest';
import { grafanaSchemaPackageVersion, schemaErrors } from './grafana-schemas.js';
import { exportedSeriesNames, parsePromql, substituteGrafanaVariables } from './promql.js';

/*
 * Schemas: generated at test time from the TypeScript types in the @grafana/schema npm package (which Grafana
 * generates from its CUE schemas) — see ./grafana-schemas.ts and ./grafana-types.ts. Nothing is vendored.
 */
const readJson = async (url: URL): Promise<unknown> => JSON.parse(await readFile(url, 'utf8')) as unknown;

interface Target {
  expr?: string;
  refId?: string;
  datasource?: { uid?: string };
}
interface Panel {
  type: string;
  id: number;
  title?: string;
  gridPos: { h: number; w: number; x: number; y: number };
  targets?: Target[];
  options?: unknown;
  fieldConfig?: { defaults: { custom?: unknown } };
  datasource?: { uid?: string };
  panels?: Panel[];
}
interface Variable {
  name: string;
  type?: string;
  query?: unknown;
  definition?: string;
}
interface Dashboard {
  uid: string;
  panels: Panel[];
  templating: { list: Variable[] };
}

async function load(): Promise<Dashboard> {
  return (await readJson(new URL('../../charts/auth-shim/files/grafana-dashboard.json', import.meta.url))) as Dashboard;
}

/**
 * The one key the dashboard uses that Grafana's generated dashboard type does not declare: `definition` on query
 * variables, which Grafana's own variable editor writes (it is the query text shown in the variables list). It is
 * checked here instead — a string equal to the variable's query — and removed from the copy that is validated, so
 * every other key stays closed.
 */
function withoutVariableDefinitions(d: Dashboard): { dashboard: Dashboard; problems: string[] } {
  const dashboard = structuredClone(d);
  const problems: string[] = [];
  for (const v of dashboard.templating.list) {
    if (!('definition' in v)) continue;
    if (v.type !== 'query') problems.push(`variable ${v.name}: definition on a ${String(v.type)} variable`);
    else if (v.definition !== v.query)
      problems.push(`variable ${v.name}: definition ${JSON.stringify(v.definition)} differs from query`);
    delete v.definition;
  }
  return { dashboard, problems };
}

function dashboardErrors(d: Dashboard): string[] {
  const { dashboard, problems } = withoutVariableDefinitions(d);
  return [...problems, ...schemaErrors('GrafanaDashboard', dashboard)];
}

/** Per-panel checks against the panel plugin's own types and the query type, which the dashboard type leaves open. */
function panelErrors(d: Dashboard): string[] {
  const problems: string[] = [];
  const panels = d.panels.flatMap((p) => [p, ...(p.panels ?? [])]);
  for (const p of panels) {
    const at = `panel ${p.id}`;
    if (p.type === 'row') {
      for (const e of schemaErrors('GrafanaRowPanel', p)) problems.push(`${at} (row): ${e}`);
      continue;
    }
    const custom = p.fieldConfig?.defaults.custom;
    if (p.type === 'timeseries') {
      for (const e of schemaErrors('TimeSeriesOptions', p.options)) problems.push(`${at} options: ${e}`);
      if (custom !== undefined)
        for (const e of schemaErrors('TimeSeriesFieldConfig', custom))
          problems.push(`${at} fieldConfig.defaults.custom: ${e}`);
    } else if (p.type === 'stat') {
      for (const e of schemaErrors('StatOptions', p.options)) problems.push(`${at} options: ${e}`);
      // The stat panel declares no custom field config.
      if (custom !== undefined && JSON.stringify(custom) !== '{}')
        problems.push(`${at}: stat panels have no fieldConfig.defaults.custom`);
    } else {
      problems.push(`${at}: no schema for panel type ${p.type}`);
      continue;
    }
    for (const t of p.targets ?? [])
      for (const e of schemaErrors('PrometheusTarget', t)) problems.push(`${at} target ${t.refId}: ${e}`);
  }
  return problems;
}

describe('Grafana dashboard (charts/auth-shim/files/grafana-dashboard.json)', () => {
  it(`is valid against Grafana's Dashboard type (@grafana/schema ${grafanaSchemaPackageVersion()})`, async () => {
    expect(dashboardErrors(await load())).toEqual([]);
  });

  it('panel options, field config and queries fit their plugin (timeseries, stat, row, prometheus)', async () => {
    expect(panelErrors(await load())).toEqual([]);
  });

  it('the schema checks are real: a broken dashboard is refused with readable messages', async () => {
    const broken = structuredClone(await load()) as unknown as {
      schemaVersion?: unknown;
      refresh: unknown;
      panels: Array<
        Record<string, unknown> & {
          options: Record<string, unknown>;
          fieldConfig: { defaults: { custom: Record<string, unknown> } };
          targets: Array<Record<string, unknown>>;
        }
      >;
      templating: { list: Array<Record<string, unknown>> };
    };
    delete broken.schemaVersion;
    broken.refresh = 60;
    const [row, graph] = broken.panels;
    const stat = broken.panels.find((p) => p.type === 'stat');
    if (row === undefined || graph === undefined || stat === undefined) throw new Error('dashboard layout changed');
    delete row.collapsed;
    graph.gridPos = { h: 8, w: 12 };
    graph.options.legend = { ...(graph.options.legend as object), displayMode: 'sidebar' };
    graph.fieldConfig.defaults.custom.fillOpacity = '10';
    const target = graph.targets[0] as Record<string, unknown>;
    target.exp = target.expr;
    delete target.expr;
    stat.options.colourMode = stat.options.colorMode;
    (broken.templating.list[1] as Record<string, unknown>).definition = 'label_values(up, namespace)';

    const d = broken as unknown as Dashboard;
    const dashboard = dashboardErrors(d);
    expect(dashboard).toEqual(
      expect.arrayContaining([
        '/ must have required property \'schemaVersion\' {"missingProperty":"schemaVersion"}',
        '/refresh must be string {"type":"string"}',
        expect.stringMatching(/^\/panels\/1\/gridPos must have required property 'x'/),
        'variable namespace: definition "label_values(up, namespace)" differs from query',
      ]),
    );
    const panels = panelErrors(d);
    expect(panels).toEqual(
      expect.arrayContaining([
        `panel ${String(row.id)} (row): / must have required property 'collapsed' {"missingProperty":"collapsed"}`,
        expect.stringMatching(
          new RegExp(
            `^panel ${String(graph.id)} options: /legend/displayMode must be equal to one of the allowed values`,
          ),
        ),
        `panel ${String(graph.id)} fieldConfig.defaults.custom: /fillOpacity must be number {"type":"number"}`,
        `panel ${String(graph.id)} target A: / must have required property 'expr' {"missingProperty":"expr"}`,
        `panel ${String(graph.id)} target A: / must NOT have additional properties {"additionalProperty":"exp"}`,
        `panel ${String(stat.id)} options: / must NOT have additional properties {"additionalProperty":"colourMode"}`,
      ]),
    );
    // Nothing the test did not break is reported.
    const touched = new Set([row.id, graph.id, stat.id].map((id) => `panel ${String(id)} `));
    expect(panels.filter((e) => ![...touched].some((t) => e.startsWith(t)))).toEqual([]);
  });

  it('every query parses as PromQL and names only metrics ProxyMetrics exports', async () => {
    const known = exportedSeriesNames();
    const used = new Set<string>();
    const problems: string[] = [];
    for (const p of (await load()).panels) {
      for (const t of p.targets ?? []) {
        const expr = substituteGrafanaVariables(t.expr ?? '');
        const parsed = parsePromql(expr);
        for (const e of parsed.errors) problems.push(`panel ${p.id} "${p.title}": ${e}`);
        if (parsed.metrics.length === 0) problems.push(`panel ${p.id}: query names no metric`);
        for (const m of parsed.metrics) {
          used.add(m);
          if (!known.has(m)) problems.push(`panel ${p.id} uses unknown metric ${m}`);
        }
      }
    }
    expect(problems).toEqual([]);
    // The panels the issue asks for are there: requests, errors, latency, tokens, subscription, credentials.
    for (const m of [
      'auth_shim_requests_total',
      'auth_shim_rejected_requests_total',
      'auth_shim_upstream_errors_total',
      'auth_shim_request_duration_seconds_bucket',
      'auth_shim_upstream_first_byte_seconds_bucket',
      'auth_shim_tokens_total',
      'auth_shim_ratelimit_unified_utilization_ratio',
      'auth_shim_ratelimit_unified_window_reset_timestamp_seconds',
      'auth_shim_oauth_token_expiry_timestamp_seconds',
      'auth_shim_credential_last_load_timestamp_seconds',
    ])
      expect(used.has(m), m).toBe(true);
  });

  it('variable queries reference exported metrics', async () => {
    const known = exportedSeriesNames();
    for (const v of (await load()).templating.list) {
      const m = /label_values\(([a-z_:][a-z0-9_:]*)/.exec(v.definition ?? '');
      if (m !== null) expect(known.has(m[1] as string), v.name).toBe(true);
    }
  });

  it('unique panel ids, the datasource variable, panels on the 24-column grid without overlap', async () => {
    const d = await load();
    const ids = d.panels.map((p) => p.id);
    expect(new Set(ids).size).toBe(ids.length);
    const taken = new Set<string>();
    for (const p of d.panels) {
      const g = p.gridPos;
      expect(g.x + g.w, `panel ${p.id}`).toBeLessThanOrEqual(24);
      for (let x = g.x; x < g.x + g.w; x++) {
        for (let y = g.y; y < g.y + g.h; y++) {
          const cell = `${x},${y}`;
          expect(taken.has(cell), `panel ${p.id} overlaps at ${cell}`).toBe(false);
          taken.add(cell);
        }
      }
      if (p.type !== 'row') {
        expect(p.datasource?.uid).toBe('${datasource}');
        for (const t of p.targets ?? []) expect(t.datasource?.uid).toBe('${datasource}');
      }
    }
  });
});
