import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';

// The repository stands on its own (issue 16, item 7): comments cite public sources, not a document
// outside the repository, and tests do not borrow fixtures from the CLI.
const root = new URL('../../', import.meta.url);
const tracked = execFileSync('git', ['ls-files'], { cwd: root, encoding: 'utf8' })
  .split('\n')
  .filter((f) => f !== '');
const text = (f: string): string => readFileSync(new URL(f, root), 'utf8');
const FACTS = ['facts', '§'].join(' ');
const CLI_DEMO = ['src', 'cli', 'demo.js'].join('/');

describe('the repository stands on its own', () => {
  it('no file cites the out-of-repository facts document', () => {
    const textual = tracked.filter((f) => /\.(ts|mjs|cjs|js|md|ya?ml|tpl|json)$|Dockerfile$/.test(f));
    expect(textual.length).toBeGreaterThan(50);
    expect(textual.filter((f) => text(f).includes(FACTS))).toEqual([]);
  });

  it('tests take no fixtures from src/cli/demo.ts', () => {
    const tests = tracked.filter((f) => f.startsWith('test/') && f.endsWith('.ts'));
    expect(tests.filter((f) => text(f).includes(CLI_DEMO))).toEqual([]);
  });
});
