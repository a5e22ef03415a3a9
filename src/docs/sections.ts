import { optionsMarkdown } from '../config/options.js';
import { PROXY_OPTIONS } from '../config/proxy-options.js';
import { Registry } from 'prom-client';
import { annotationsMarkdown } from '../injector/annotations.js';
import { skipReasonsMarkdown } from '../injector/skip-reasons.js';
import { METRIC_SETS, type MetricSet } from '../telemetry/metrics.js';

/** A Markdown section derived from code; `npm run docs` rewrites it, a test checks it. */
export interface GeneratedSection {
  readonly file: string;
  readonly name: string;
  render(): string;
}

export const GENERATED_SECTIONS: GeneratedSection[] = [
  { file: 'README.md', name: 'proxy-options', render: () => optionsMarkdown(PROXY_OPTIONS) },
  { file: 'README.md', name: 'annotations', render: annotationsMarkdown },
  { file: 'README.md', name: 'metrics', render: () => metricsMarkdown('proxy') },
  { file: 'docs/METRICS.md', name: 'metrics', render: () => metricsMarkdown('proxy') },
  { file: 'docs/METRICS.md', name: 'webhook-metrics', render: () => metricsMarkdown('webhook') },
  { file: 'docs/INJECTION.md', name: 'webhook-metrics', render: () => metricsMarkdown('webhook') },
  { file: 'docs/INJECTION.md', name: 'skip-reasons', render: skipReasonsMarkdown },
];

/** A metric table, straight from what one metric set registers: name | type | labels | meaning. */
export function metricsMarkdown(set: MetricSet): string {
  const registry = new Registry();
  METRIC_SETS[set](registry);
  const rows = registry.getMetricsAsArray().map((m) => {
    const { name, type, help, labelNames } = m as unknown as {
      name: string;
      type: string;
      help: string;
      labelNames: string[];
    };
    const labels = labelNames.map((l) => `\`${l}\``).join(', ');
    return `| \`${name}\` | ${type} | ${labels} | ${help.replaceAll('|', '\\|')} |`;
  });
  return ['| metric | type | labels | meaning |', '|---|---|---|---|', ...rows].join('\n');
}

/** Replaces the body of every generated section of `file` in `text`. */
export function renderSections(file: string, text: string): string {
  let out = text;
  for (const s of GENERATED_SECTIONS.filter((g) => g.file === file)) {
    const re = new RegExp(
      `(<!-- generated:${s.name} \\(npm run docs\\) -->\\n)[\\s\\S]*?(<!-- /generated:${s.name} -->)`,
    );
    if (!re.test(out)) throw new Error(`${file} has no generated:${s.name} markers`);
    out = out.replace(re, (_m, open: string, close: string) => `${open}${s.render()}\n${close}`);
  }
  return out;
}
