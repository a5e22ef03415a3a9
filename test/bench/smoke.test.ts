import { describe, expect, it } from 'vitest';
import { runBench, SMOKE } from '../../bench/bench.js';
import { smokeProblems } from '../../bench/smoke.js';

/**
 * The CI-sized bench: every hop but LiteLLM, tiny counts (~30 s). Not a timed unit test — it fails
 * only on gross regressions (errors, an order of magnitude slower than nginx, memory far past a
 * pod limit, streams that do not complete); the real numbers come from `npm run bench` (docs/PERFORMANCE.md).
 * It installs nginx and wrk with apt-get when they are missing, as the full bench does.
 */
describe('bench smoke', () => {
  it('runs direct, auth-shim and nginx side by side without gross regressions', { timeout: 180_000 }, async () => {
    const lines: string[] = [];
    const results = await runBench({ sizes: SMOKE, litellm: false, flagVariants: false, log: (l) => lines.push(l) });
    expect(Object.keys(results.hops).sort()).toEqual(['direct', 'nginx', 'shim']);
    expect(smokeProblems(results), lines.join('\n')).toEqual([]);
  });
});
