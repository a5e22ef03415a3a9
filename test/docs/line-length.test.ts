import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';

// No line over 120 characters (issue 16, item 7). Biome formats code to its lineWidth of 120 but
// leaves strings, template literals and comments as written, and it has no line-length lint rule,
// so this test is the check.
const MAX = 120;
const root = new URL('../../', import.meta.url);
const source = (f: string): boolean =>
  /\.(ts|mts|cts|js|mjs|cjs)$/.test(f) && (/^(src|test|bench|scripts)\//.test(f) || !f.includes('/'));
const files = execFileSync('git', ['ls-files', '--cached', '--others', '--exclude-standard'], {
  cwd: root,
  encoding: 'utf8',
})
  .split('\n')
  .filter(source)
  .filter((f) => existsSync(new URL(f, root)));

/** `file:line (length)` for every line of `file` longer than MAX characters (code points). */
const longLines = (file: string): string[] =>
  readFileSync(new URL(file, root), 'utf8')
    .split('\n')
    .flatMap((line, i) => {
      const length = [...line].length;
      return length > MAX ? [`${file}:${i + 1} (${length})`] : [];
    });

describe(`no line over ${MAX} characters`, () => {
  it('in the source, tests, benchmarks, scripts and top-level configs', () => {
    expect(files.length).toBeGreaterThan(100);
    expect(files.flatMap(longLines)).toEqual([]);
  });
});
