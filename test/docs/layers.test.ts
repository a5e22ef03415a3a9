import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';

// The direction of the house (docs/ARCHITECTURE.md "Layers"), checked by dependency-cruiser with the
// repository's .dependency-cruiser.cjs, so `npm test` fails when an import runs up the layers.
const root = fileURLToPath(new URL('../../', import.meta.url));
const bin = join(root, 'node_modules', '.bin', 'depcruise');
const config = join(root, '.dependency-cruiser.cjs');

function cruise(cwd: string): { status: number | null; out: string } {
  const r = spawnSync(bin, ['src', '--config', config, '--output-type', 'err'], {
    cwd,
    encoding: 'utf8',
    timeout: 120_000,
  });
  return { status: r.status, out: `${r.stdout}${r.stderr}` };
}

const scratch: string[] = [];
afterAll(() => {
  for (const dir of scratch) rmSync(dir, { recursive: true, force: true });
});

/** A throw-away tree with the given files, cruised with the repository's rules. */
function cruiseTree(files: Record<string, string>): { status: number | null; out: string } {
  const dir = mkdtempSync(join(tmpdir(), 'auth-shim-layers-'));
  scratch.push(dir);
  for (const [path, text] of Object.entries(files)) {
    mkdirSync(join(dir, path, '..'), { recursive: true });
    writeFileSync(join(dir, path), text);
  }
  return cruise(dir);
}

describe('import direction', () => {
  it('src/ has no import that runs up the layers, and no cycle', () => {
    const { status, out } = cruise(root);
    expect(out).toContain('no dependency violations');
    expect(status).toBe(0);
  });

  it.each([
    [
      'vocabulary imports nothing of the project',
      'src/vocabulary/a.ts',
      "import { b } from '../config/b.js';\nexport const a = b;\n",
      'src/config/b.ts',
      'vocabulary-imports-nothing',
    ],
    [
      'a leaf does not import another leaf',
      'src/credentials/a.ts',
      "import { b } from '../telemetry/b.js';\nexport const a = b;\n",
      'src/telemetry/b.ts',
      'leaves-know-only-vocabulary',
    ],
    [
      'a leaf does not import the proxy',
      'src/telemetry/a.ts',
      "import { b } from '../proxy/b.js';\nexport const a = b;\n",
      'src/proxy/b.ts',
      'leaves-know-only-vocabulary',
    ],
    [
      'proxy does not import injector',
      'src/proxy/a.ts',
      "import { b } from '../injector/b.js';\nexport const a = b;\n",
      'src/injector/b.ts',
      'edges-know-leaves-only',
    ],
    [
      'injector does not import a composition root',
      'src/injector/a.ts',
      "import { b } from '../app/b.js';\nexport const a = b;\n",
      'src/app/b.ts',
      'edges-know-leaves-only',
    ],
    [
      'a composition root does not import the CLI',
      'src/app/a.ts',
      "import { b } from '../cli/b.js';\nexport const a = b;\n",
      'src/cli/b.ts',
      'roots-not-cli',
    ],
  ])('rejects: %s', (_name, from, text, to, rule) => {
    const { status, out } = cruiseTree({ [from]: text, [to]: 'export const b = 1;\n' });
    expect(out).toContain(rule);
    expect(status).not.toBe(0);
  });

  it('rejects a cycle inside one layer', () => {
    const { status, out } = cruiseTree({
      'src/proxy/a.ts': "import { b } from './b.js';\nexport const a = () => b;\n",
      'src/proxy/b.ts': "import { a } from './a.js';\nexport const b = () => a;\n",
    });
    expect(out).toContain('no-cycles');
    expect(status).not.toBe(0);
  });
});
