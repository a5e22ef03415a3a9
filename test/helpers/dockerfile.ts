import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { REPO_ROOT } from './helm.js';

/**
 * The Node flags of the image's ENTRYPOINT (between `/nodejs/bin/node` and `/app/dist/cli.js`), so
 * tests that start `dist/cli.js` start it as the image does (issue 15: `--disable-sigusr1` lives there).
 */
export function entrypointNodeFlags(): string[] {
  const line = readFileSync(join(REPO_ROOT, 'Dockerfile'), 'utf8')
    .split('\n')
    .find((l) => l.startsWith('ENTRYPOINT'));
  const argv = JSON.parse(line?.slice('ENTRYPOINT'.length) ?? '[]') as string[];
  if (argv[0] !== '/nodejs/bin/node' || argv.at(-1) !== '/app/dist/cli.js')
    throw new Error(`unexpected ENTRYPOINT: ${JSON.stringify(argv)}`);
  return argv.slice(1, -1);
}
