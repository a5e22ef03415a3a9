import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { FULL, runBench, SMOKE } from './bench.js';
import { renderChart, renderPerformanceDoc } from './report.js';
import type { BenchResults } from './bench.js';
import { smokeProblems } from './smoke.js';

/**
 * `npm run bench` — the full run: every hop side by side, results in bench/results/latest.json and
 * docs/PERFORMANCE.md. `npm run bench -- --smoke` (or BENCH_SMOKE=1): tiny counts, no LiteLLM, no
 * flag variants, fails only on gross regressions. `--no-litellm`, `--no-flags` skip those parts;
 * `--out <file>` writes the JSON elsewhere (and leaves docs/ alone).
 */
const args = process.argv.slice(2);
const smoke = args.includes('--smoke') || process.env['BENCH_SMOKE'] === '1';
const outArg = args.indexOf('--out');
const out = outArg >= 0 ? args[outArg + 1] : undefined;
const log = (line: string): void => void process.stderr.write(`[bench] ${line}\n`);

/** docs/PERFORMANCE.md and docs/performance.svg; the hand-written analysis comes from bench/notes.md. */
async function writeDocs(results: BenchResults): Promise<void> {
  const notes = await readFile(new URL('./notes.md', import.meta.url), 'utf8').catch(() => '');
  await writeFile(new URL('../docs/PERFORMANCE.md', import.meta.url), renderPerformanceDoc(results, notes.trim()));
  await writeFile(new URL('../docs/performance.svg', import.meta.url), renderChart(results));
}

if (args.includes('--render')) {
  // Re-renders the docs from the committed results, without measuring anything.
  await writeDocs(
    JSON.parse(await readFile(new URL('./results/latest.json', import.meta.url), 'utf8')) as BenchResults,
  );
  process.exit(0);
}

const results = await runBench({
  sizes: smoke ? SMOKE : FULL,
  litellm: !smoke && !args.includes('--no-litellm'),
  flagVariants: !smoke && !args.includes('--no-flags'),
  log,
});

const json = `${JSON.stringify(results, null, 2)}\n`;
if (smoke) {
  if (out !== undefined) await writeFile(out, json);
  const problems = smokeProblems(results);
  log(problems.length === 0 ? `smoke: ok (${results.seconds} s)` : `smoke: FAILED\n  - ${problems.join('\n  - ')}`);
  process.exitCode = problems.length === 0 ? 0 : 1;
} else {
  const file = out ?? fileURLToPath(new URL('./results/latest.json', import.meta.url));
  await mkdir(new URL('./results/', import.meta.url), { recursive: true });
  await writeFile(file, json);
  if (out === undefined) {
    await writeDocs(results);
    log(`wrote ${file}, docs/PERFORMANCE.md and docs/performance.svg (${results.seconds} s)`);
  } else {
    log(`wrote ${file} (${results.seconds} s)`);
  }
}
