import { existsSync } from 'node:fs';
import { spawn } from 'node:child_process';
import { copyFile, mkdir, readFile, writeFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import { homedir } from 'node:os';
import { join, normalize } from 'node:path';
import { pinRows } from '../crds/crds.js';
import { CHART_DIR, helm } from '../helpers/helm.js';
import { parseDocument } from 'yaml';
import {
  freePort,
  REPO_ROOT,
  run,
  startProc,
  stopProc,
  type ControlPlane,
  type Proc,
} from '../controlplane/cluster.js';
import type { Kubectl } from '../controlplane/kube.js';

/**
 * Flux's controllers as processes next to the control plane of test/controlplane (build.sh builds
 * them from the Go module proxy), and a Helm HTTP repository on loopback serving charts/auth-shim.
 */

const HERE = import.meta.dirname;

export interface Controller {
  readonly module: string;
  readonly version: string;
  readonly name: string;
}

export function fluxControllers(): Controller[] {
  return pinRows(join(HERE, 'controllers.txt'), 2).map(([module, version]) => ({
    module: module as string,
    version: version as string,
    name: (module as string).slice((module as string).lastIndexOf('/') + 1),
  }));
}

/** A built controller. Missing is a failure, not a skip (as the control plane's binaries). */
export function fluxBinary(name: string): string {
  const c = fluxControllers().find((x) => x.name === name);
  if (c === undefined) throw new Error(`${name} is not in test/flux/controllers.txt`);
  const bin = join(
    process.env['AUTH_SHIM_CACHE'] ?? join(homedir(), '.cache', 'auth-shim'),
    'flux',
    'bin',
    `${name}-${c.version}`,
  );
  if (!existsSync(bin))
    throw new Error(
      `${name} ${c.version} is not built (${bin}): run \`bash test/flux/build.sh\` ` +
        '(Go; see docs/KUBERNETES.md for the cold cost)',
    );
  return bin;
}

export interface RunningController {
  readonly name: string;
  readonly log: string;
  readonly proc: Proc;
}

/**
 * Starts a controller against `cp` (the control plane, or the test cluster) with loopback-only listeners;
 * extra args per controller.
 */
export async function startController(
  cp: Pick<ControlPlane, 'kubeconfig'>,
  dir: string,
  name: string,
  extra: readonly string[] = [],
): Promise<RunningController> {
  const log = join(dir, `${name}.log`);
  const args = [
    `--metrics-addr=127.0.0.1:${await freePort()}`,
    `--health-addr=127.0.0.1:${await freePort()}`,
    '--log-level=debug',
    ...extra,
  ];
  // RUNTIME_NAMESPACE is where a controller finds its own objects (as in its Deployment).
  const proc = startProc(fluxBinary(name), args, log, false, {
    ...process.env,
    KUBECONFIG: cp.kubeconfig,
    RUNTIME_NAMESPACE: 'flux-system',
  });
  return { name, log, proc };
}

/**
 * source-, kustomize- and helm-controller against `cp`, source-controller's artifact storage in
 * `dir/storage` served on loopback (where the other two fetch artifacts from).
 */
export async function startFluxControllers(
  cp: Pick<ControlPlane, 'kubeconfig'>,
  dir: string,
): Promise<RunningController[]> {
  const storage = await freePort();
  // source-controller refuses a storage path that does not exist
  await mkdir(join(dir, 'storage'), { recursive: true });
  const started: RunningController[] = [];
  try {
    started.push(
      await startController(cp, dir, 'source-controller', [
        `--storage-path=${join(dir, 'storage')}`,
        `--storage-addr=127.0.0.1:${storage}`,
        `--storage-adv-addr=127.0.0.1:${storage}`,
      ]),
    );
    started.push(await startController(cp, dir, 'kustomize-controller'));
    started.push(await startController(cp, dir, 'helm-controller'));
  } catch (err) {
    await stopControllers(started);
    throw err;
  }
  return started;
}

/** A status condition of a Flux object (`Ready`, `Released`…). */
export function condition(
  o: Record<string, unknown>,
  type: string,
): { status?: string; reason?: string; message?: string } | undefined {
  return (
    (
      o['status'] as
        | { conditions?: Array<{ type: string; status: string; reason: string; message: string }> }
        | undefined
    )?.conditions ?? []
  ).find((c) => c.type === type);
}

export async function stopControllers(cs: readonly (RunningController | undefined)[]): Promise<void> {
  await Promise.all(cs.map((c) => stopProc(c?.proc)));
}

export async function logTail(c: RunningController | undefined, lines = 40): Promise<string> {
  if (c === undefined) return '';
  const text = await readFile(c.log, 'utf8').catch(() => '');
  return `--- ${c.name} ---\n${text.split('\n').slice(-lines).join('\n')}`;
}

/**
 * The one change the tests make to deploy/flux/auth-shim's chart source: a loopback Helm HTTP
 * repository instead of the OCI registry it names (no registry is reachable here).
 */
export function loopbackHelmRepositoryPatch(url: string): { target: { kind: string; name: string }; patch: string } {
  return {
    target: { kind: 'HelmRepository', name: 'auth-shim' },
    patch: JSON.stringify([
      { op: 'remove', path: '/spec/type' },
      { op: 'replace', path: '/spec/url', value: url },
    ]),
  };
}

export interface HelmRepo {
  readonly url: string;
  /** Requests the repository answered, as `METHOD path status`. */
  readonly served: string[];
  close(): Promise<void>;
}

/**
 * `helm package <chart>` (charts/auth-shim unless told) plus `helm repo index`, served over plain
 * HTTP on 127.0.0.1:0 — a Helm HTTP repository as chart museums and GitHub Pages serve one.
 */
export async function startHelmRepo(dir: string, chart: string = CHART_DIR): Promise<HelmRepo> {
  const root = join(dir, 'repo');
  await mkdir(root, { recursive: true });
  const served: string[] = [];
  const server: Server = createServer((req, res) => {
    const path = normalize(decodeURIComponent(new URL(req.url ?? '/', 'http://x').pathname)).replace(
      /^(\.\.[/\\])+/,
      '',
    );
    readFile(join(root, path))
      .then((body) => {
        served.push(`${req.method ?? '?'} ${path} 200`);
        res
          .writeHead(200, {
            'content-type': path.endsWith('.yaml') ? 'application/x-yaml' : 'application/gzip',
            'content-length': body.length,
          })
          .end(body);
      })
      .catch(() => {
        served.push(`${req.method ?? '?'} ${path} 404`);
        res.writeHead(404).end();
      });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const addr = server.address();
  if (addr === null || typeof addr === 'string') throw new Error('no address');
  const url = `http://127.0.0.1:${addr.port}`;
  for (const args of [
    ['package', chart, '--destination', root],
    ['repo', 'index', root, '--url', url],
  ]) {
    const r = await helm(args);
    if (r.code !== 0) throw new Error(`helm ${args.join(' ')}: ${r.stderr}`);
  }
  return { url, served, close: () => new Promise((r) => server.close(() => r())) };
}

export interface GitServer {
  /** Clone URL of the one repository, `http://127.0.0.1:<port>/repo.git`. */
  readonly url: string;
  readonly branch: string;
  /** Writes `files` (path → content) in the working copy, commits and pushes: a user's `git push`. */
  commit(files: Record<string, string>, message: string): Promise<void>;
  close(): Promise<void>;
}

const GIT_HTTP_BACKEND = '/usr/lib/git-core/git-http-backend';

/**
 * A Git repository holding `files` (path → source file) in one commit, served over Git's smart
 * HTTP protocol on 127.0.0.1:0 by git's own `git http-backend` (as a CGI program, the way Apache or
 * nginx run it) — what a Flux GitRepository clones from.
 */
export async function startGitServer(dir: string, files: Record<string, string>): Promise<GitServer> {
  const root = join(dir, 'git');
  const work = join(dir, 'git-work');
  const branch = 'main';
  await mkdir(root, { recursive: true });
  await mkdir(work, { recursive: true });
  const git = async (cwd: string, args: readonly string[]) => {
    const r = await run('git', ['-c', 'user.name=auth-shim-test', '-c', 'user.email=test@auth-shim.invalid', ...args], {
      cwd,
    });
    if (r.code !== 0) throw new Error(`git ${args.join(' ')}: ${r.stderr}`);
  };
  await git(work, ['init', '-q', '-b', branch]);
  for (const [path, source] of Object.entries(files)) {
    await mkdir(join(work, path, '..'), { recursive: true });
    await copyFile(source, join(work, path));
  }
  await git(work, ['add', '.']);
  await git(work, ['commit', '-q', '-m', 'deploy/ as shipped']);
  await git(dir, ['clone', '-q', '--bare', work, join(root, 'repo.git')]);
  await git(work, ['remote', 'add', 'origin', join(root, 'repo.git')]);
  const commit = async (changed: Record<string, string>, message: string) => {
    for (const [path, content] of Object.entries(changed)) await writeFile(join(work, path), content);
    await git(work, ['commit', '-q', '-a', '-m', message]);
    await git(work, ['push', '-q', 'origin', branch]);
  };

  const server = createServer((req, res) => {
    const u = new URL(req.url ?? '/', 'http://x');
    const cgi = spawn(GIT_HTTP_BACKEND, [], {
      env: {
        PATH: process.env['PATH'] ?? '',
        GIT_PROJECT_ROOT: root,
        GIT_HTTP_EXPORT_ALL: '1',
        GATEWAY_INTERFACE: 'CGI/1.1',
        REQUEST_METHOD: req.method ?? 'GET',
        PATH_INFO: decodeURIComponent(u.pathname),
        QUERY_STRING: u.search.slice(1),
        CONTENT_TYPE: req.headers['content-type'] ?? '',
        HTTP_CONTENT_ENCODING: req.headers['content-encoding'] ?? '',
        GIT_PROTOCOL: String(req.headers['git-protocol'] ?? ''),
        REMOTE_ADDR: '127.0.0.1',
      },
      stdio: ['pipe', 'pipe', 'ignore'],
    });
    req.pipe(cgi.stdin);
    let head = Buffer.alloc(0);
    let started = false;
    cgi.stdout.on('data', (chunk: Buffer) => {
      if (started) {
        res.write(chunk);
        return;
      }
      head = Buffer.concat([head, chunk]);
      const end = head.indexOf('\r\n\r\n');
      if (end === -1) return;
      started = true;
      let status = 200;
      for (const line of head.subarray(0, end).toString('latin1').split('\r\n')) {
        const i = line.indexOf(':');
        const [k, v] = [line.slice(0, i).trim(), line.slice(i + 1).trim()];
        if (k.toLowerCase() === 'status') status = Number.parseInt(v, 10);
        else res.setHeader(k, v);
      }
      res.writeHead(status);
      res.write(head.subarray(end + 4));
    });
    cgi.on('close', () => (started ? res.end() : res.writeHead(500).end()));
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const addr = server.address();
  if (addr === null || typeof addr === 'string') throw new Error('no address');
  return {
    url: `http://127.0.0.1:${addr.port}/repo.git`,
    branch,
    commit,
    close: () => new Promise((r) => server.close(() => r())),
  };
}

/**
 * A user's change of `spec.values` in `file` (a HelmRelease in the Git repository): a pod annotation
 * `example.com/rollout: "2"`, committed and pushed; then what `flux reconcile source git <name>`
 * does, asking `gitRepository` (in flux-system) to reconcile now rather than at its interval.
 */
export async function pushRolloutAnnotation(
  k: Kubectl,
  git: GitServer,
  file: string,
  gitRepository: string,
): Promise<void> {
  const release = parseDocument(await readFile(join(REPO_ROOT, file), 'utf8'));
  release.setIn(['spec', 'values', 'podAnnotations'], { 'example.com/rollout': '2' });
  await git.commit({ [file]: release.toString() }, 'auth-shim: a pod annotation');
  await k.kubectlOk([
    'annotate',
    '--overwrite',
    'gitrepository',
    gitRepository,
    '-n',
    'flux-system',
    `reconcile.fluxcd.io/requestedAt=${new Date().toISOString()}`,
  ]);
}
