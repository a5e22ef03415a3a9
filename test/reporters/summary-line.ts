import type { Reporter, TestModule } from 'vitest/node';

/**
 * Ends every run with one plain line, `vitest: N passed, N failed, N skipped`, the closing line CI
 * reads to count tests (vitest's own summary is formatted for people). Errors thrown outside any
 * test fail the run too (exit 1), so the line says how many there were.
 */
export default class SummaryLine implements Reporter {
  onTestRunEnd(modules: ReadonlyArray<TestModule>, unhandledErrors: ReadonlyArray<unknown> = []): void {
    let passed = 0;
    let failed = 0;
    let skipped = 0;
    for (const m of modules) {
      for (const t of m.children.allTests()) {
        const state = t.result().state;
        if (state === 'passed') passed++;
        else if (state === 'failed') failed++;
        else skipped++;
      }
    }
    const errors =
      unhandledErrors.length === 0
        ? ''
        : `, ${unhandledErrors.length} unhandled error${unhandledErrors.length === 1 ? '' : 's'} (the run fails)`;
    process.stdout.write(`\nvitest: ${passed} passed, ${failed} failed, ${skipped} skipped${errors}\n`);
  }
}
