import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { Registry } from 'prom-client';
import { describe, expect, it } from 'vitest';
import { METRIC_SETS } from '../../src/telemetry/metrics.js';

const root = new URL('../../', import.meta.url);

describe('metric declarations in one place (issue 16, item 6)', () => {
  it('only src/telemetry/ creates metric families', () => {
    const files = execFileSync('git', ['ls-files', 'src'], { cwd: root, encoding: 'utf8' })
      .split('\n')
      .filter((f) => f.endsWith('.ts'));
    const declaring = files.filter((f) =>
      /new (Counter|Gauge|Histogram|Summary)\(/.test(readFileSync(new URL(f, root), 'utf8')),
    );
    expect(declaring.length).toBeGreaterThan(0);
    expect(declaring.filter((f) => !f.startsWith('src/telemetry/'))).toEqual([]);
  });

  it('docs/METRICS.md names every family of every metric set', () => {
    const doc = readFileSync(new URL('docs/METRICS.md', root), 'utf8');
    for (const build of Object.values(METRIC_SETS)) {
      const registry = new Registry();
      build(registry);
      const names = registry.getMetricsAsArray().map((m) => (m as unknown as { name: string }).name);
      expect(names.length).toBeGreaterThan(3);
      expect(names.filter((n) => !doc.includes(`\`${n}\``))).toEqual([]);
    }
  });
});
