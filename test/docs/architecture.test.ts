import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';

const root = new URL('../../', import.meta.url);

describe('docs/ARCHITECTURE.md', () => {
  it('maps every source file to its responsibility', () => {
    const doc = readFileSync(new URL('docs/ARCHITECTURE.md', root), 'utf8');
    const files = execFileSync('git', ['ls-files', 'src'], { cwd: root, encoding: 'utf8' })
      .split('\n')
      .filter((f) => f.endsWith('.ts'));
    expect(files.length).toBeGreaterThan(40);
    expect(files.filter((f) => !doc.includes(`\`${f}\``))).toEqual([]);
  });

  it('lists every runtime dependency with its reason', () => {
    const doc = readFileSync(new URL('docs/ARCHITECTURE.md', root), 'utf8');
    const pkg = JSON.parse(readFileSync(new URL('package.json', root), 'utf8')) as {
      dependencies: Record<string, string>;
    };
    expect(Object.keys(pkg.dependencies).filter((d) => !doc.includes(`| \`${d}\` |`))).toEqual([]);
  });
});
