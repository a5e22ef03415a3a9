import { parser } from '@prometheus-io/lezer-promql';
import { Registry } from 'prom-client';
import { ProxyMetrics } from '../../src/telemetry/metrics.js';

export interface ParsedPromql {
  /** Error nodes of the parse tree, with the text around them. */
  readonly errors: string[];
  /** Metric names used in vector selectors. */
  readonly metrics: string[];
}

/** Grafana's built-in interval variables are not PromQL; they become a plain duration first. */
export function substituteGrafanaVariables(expr: string): string {
  return expr
    .replace(/\$__(rate_interval|interval|range)\b/g, '5m')
    .replace(/\$\{__(rate_interval|interval|range)\}/g, '5m');
}

/** Parses with Prometheus' own PromQL grammar (@prometheus-io/lezer-promql). */
export function parsePromql(expr: string): ParsedPromql {
  const tree = parser.parse(expr);
  const errors: string[] = [];
  const metrics: string[] = [];
  tree.iterate({
    enter(node) {
      if (node.type.isError)
        errors.push(`at ${node.from}: …${expr.slice(Math.max(0, node.from - 20), node.from + 20)}…`);
      if (node.name === 'Identifier' && node.node.parent?.name === 'VectorSelector')
        metrics.push(expr.slice(node.from, node.to));
    },
  });
  return { errors, metrics };
}

/** Every series name `/metrics` can expose, process default metrics and histogram series included. */
export function exportedSeriesNames(): Set<string> {
  const registry = new Registry();
  new ProxyMetrics(registry, { defaultMetrics: true, federation: true });
  const names = new Set<string>();
  for (const m of registry.getMetricsAsArray()) {
    const { name, type } = m as unknown as { name: string; type: string };
    names.add(name);
    if (type === 'histogram') for (const s of ['_bucket', '_sum', '_count']) names.add(name + s);
    if (type === 'summary') for (const s of ['_sum', '_count']) names.add(name + s);
  }
  registry.clear();
  return names;
}
