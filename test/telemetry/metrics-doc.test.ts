import { readFile, writeFile } from 'node:fs/promises';
import { Registry } from 'prom-client';
import { describe, expect, it } from 'vitest';
import { ProxyMetrics } from '../../src/telemetry/metrics.js';

const DOC = new URL('../../docs/METRICS.md', import.meta.url);
const BEGIN = '<!-- metrics:begin (generated from ProxyMetrics by test/telemetry/metrics-doc.test.ts; UPDATE_GOLDEN=1 rewrites it) -->';
const END = '<!-- metrics:end -->';

/** The metric table, straight from what ProxyMetrics registers: name | type | labels | meaning. */
export function metricTable(): string {
  const registry = new Registry();
  new ProxyMetrics(registry, { defaultMetrics: false });
  const rows = registry.getMetricsAsArray().map((m) => {
    const { name, type, help, labelNames } = m as unknown as { name: string; type: string; help: string; labelNames: string[] };
    const labels = labelNames.length === 0 ? '' : labelNames.map((l) => `\`${l}\``).join(', ');
    return `| \`${name}\` | ${type} | ${labels} | ${help.replaceAll('|', '\\|')} |`;
  });
  return ['| metric | type | labels | meaning |', '|---|---|---|---|', ...rows].join('\n');
}

describe('docs/METRICS.md', () => {
  it('lists every metric ProxyMetrics registers, with its type, labels and meaning', async () => {
    const doc = await readFile(DOC, 'utf8');
    const start = doc.indexOf(BEGIN);
    const end = doc.indexOf(END);
    expect(start, 'the generated-table markers are missing').toBeGreaterThanOrEqual(0);
    const table = `${BEGIN}\n${metricTable()}\n${END}`;
    const current = doc.slice(start, end + END.length);
    if (process.env.UPDATE_GOLDEN === '1' && current !== table) {
      await writeFile(DOC, doc.slice(0, start) + table + doc.slice(end + END.length));
      return;
    }
    expect(current).toBe(table);
  });
});
