import { readFile, writeFile } from 'node:fs/promises';
import type { BenchResults } from './bench.js';
import { renderClusterSection, type ClusterResults } from './cluster-report.js';
import { renderChart, renderPerformanceDoc } from './report.js';

/**
 * docs/PERFORMANCE.md and docs/performance.svg from the committed results: bench/results/latest.json
 * (`npm run bench`), the hand-written analysis in bench/notes.md, and — when `npm run bench:cluster`
 * has run — bench/results/cluster.json (measured in real pods).
 */
export async function writePerformanceDocs(results?: BenchResults): Promise<void> {
  const r =
    results ?? (JSON.parse(await readFile(new URL('./results/latest.json', import.meta.url), 'utf8')) as BenchResults);
  const notes = await readFile(new URL('./notes.md', import.meta.url), 'utf8').catch(() => '');
  const cluster = await readFile(new URL('./results/cluster.json', import.meta.url), 'utf8').then(
    (t) => JSON.parse(t) as ClusterResults,
    () => undefined,
  );
  const doc = renderPerformanceDoc(r, notes.trim());
  await writeFile(
    new URL('../docs/PERFORMANCE.md', import.meta.url),
    cluster === undefined ? doc : `${doc.trimEnd()}\n\n${renderClusterSection(cluster)}`,
  );
  await writeFile(new URL('../docs/performance.svg', import.meta.url), renderChart(r));
}
