import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { cp, mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { request } from 'node:http';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { entrypointNodeFlags } from '../helpers/dockerfile.js';
import { REPO_ROOT, run } from '../helpers/helm.js';
import { makeBundle } from '../injector/_helpers.js';

/**
 * The image's runtime tree, rebuilt without a container engine: the Dockerfile's `prod-deps`
 * stage (`npm ci --omit=dev --ignore-scripts` of the same package.json and lockfile) plus the
 * `build` stage's `dist/`. `proxy`, `webhook` and `inject` must start from it with Node 24 alone,
 * so a runtime import that only a devDependency satisfies fails here, not in a pulled image.
 * The temporary directory sits under the OS temp dir, outside the repository, so Node's module
 * resolution cannot climb into the repository's own node_modules.
 */

let app: string;
const children: ChildProcess[] = [];

beforeAll(async () => {
  if (!existsSync(join(REPO_ROOT, 'dist', 'cli.js'))) throw new Error('dist/ is missing: run `npm run build` first');
  app = await mkdtemp(join(tmpdir(), 'auth-shim-image-'));
  for (const f of ['package.json', 'package-lock.json']) await cp(join(REPO_ROOT, f), join(app, f));
  await cp(join(REPO_ROOT, 'dist'), join(app, 'dist'), { recursive: true });
  // Node 24 first on PATH, so npm runs on it (engines: node >= 24) — the Dockerfile's build image.
  const install = () =>
    run(
      'npm',
      ['ci', '--omit=dev', '--ignore-scripts', '--no-audit', '--no-fund', '--prefer-offline', '--loglevel=error'],
      {
        cwd: app,
        env: { PATH: `${dirname(process.execPath)}:${process.env['PATH'] ?? ''}`, npm_config_update_notifier: 'false' },
      },
    );
  // One retry: the registry (or a shared npm cache another process is writing) can fail once.
  let r = await install();
  if (r.code !== 0) r = await install();
  if (r.code !== 0) throw new Error(`npm ci --omit=dev failed (${r.code}):\n${r.stderr}`);
}, 180_000);

afterAll(async () => {
  for (const c of children) c.kill('SIGKILL');
  if (app !== undefined) await rm(app, { recursive: true, force: true });
});

interface Started {
  readonly child: ChildProcess;
  readonly listening: Promise<{ url: string; admin: string }>;
  readonly output: () => string;
}

/** `node <flags> <app>/dist/cli.js <args>` — the image's ENTRYPOINT — with only the variables given. */
function start(args: string[], env: Record<string, string>, input?: string): Started {
  const child = spawn(process.execPath, [...entrypointNodeFlags(), join(app, 'dist', 'cli.js'), ...args], {
    cwd: app,
    env: { PATH: '/nonexistent', HOME: app, NODE_ENV: 'production', ...env },
    stdio: [input === undefined ? 'ignore' : 'pipe', 'pipe', 'pipe'],
  });
  children.push(child);
  if (input !== undefined) child.stdin?.end(input);
  let out = '';
  const listening = new Promise<{ url: string; admin: string }>((resolve, reject) => {
    child.stdout?.on('data', (c: Buffer) => {
      out += c.toString('utf8');
      for (const line of out.split('\n')) {
        if (line.includes('"event":"listening"')) resolve(JSON.parse(line) as { url: string; admin: string });
      }
    });
    child.stderr?.on('data', (c: Buffer) => (out += c.toString('utf8')));
    child.on('exit', (code) => reject(new Error(`exited with ${code} before listening:\n${out}`)));
  });
  return { child, listening, output: () => out };
}

function get(url: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    request(url, { agent: false }, (res) => {
      let body = '';
      res.on('data', (c: Buffer) => (body += c.toString('utf8')));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    })
      .on('error', reject)
      .end();
  });
}

async function stop(s: Started): Promise<number | null> {
  const exited = new Promise<number | null>((resolve) => s.child.once('exit', (code) => resolve(code)));
  s.child.kill('SIGTERM');
  return exited;
}

describe('the image runtime tree (production dependencies + dist/)', () => {
  it('holds no devDependency, in particular not the `node` package', async () => {
    const lock = JSON.parse(await readFile(join(REPO_ROOT, 'package-lock.json'), 'utf8')) as {
      packages: Record<string, { dev?: boolean }>;
    };
    const devOnly = Object.entries(lock.packages)
      .filter(([path, p]) => path !== '' && p.dev === true)
      .map(([path]) => path);
    expect(devOnly.length).toBeGreaterThan(0);
    expect(devOnly.filter((path) => existsSync(join(app, path)))).toEqual([]);
    expect(existsSync(join(app, 'node_modules', 'node'))).toBe(false);
    expect(existsSync(join(app, 'node_modules', '@kubernetes', 'client-node'))).toBe(true);
  });

  it('starts `auth-shim proxy` and answers /readyz', async () => {
    const s = start(['proxy'], {
      AUTH_SHIM_UPSTREAM_URL: 'http://127.0.0.1:9/anthropic',
      AUTH_SHIM_LISTEN: '127.0.0.1:0',
      AUTH_SHIM_ADMIN_LISTEN: '127.0.0.1:0',
    });
    const { admin } = await s.listening;
    expect((await get(`${admin}/healthz`)).status).toBe(200);
    expect((await get(`${admin}/readyz`)).status).toBe(200);
    expect(await stop(s)).toBe(0);
  });

  it('starts `auth-shim proxy` in Kubernetes API mode (loads @kubernetes/client-node from the tree)', async () => {
    const s = start(['proxy'], {
      AUTH_SHIM_UPSTREAM_URL: 'http://127.0.0.1:9/anthropic',
      AUTH_SHIM_LISTEN: '127.0.0.1:0',
      AUTH_SHIM_ADMIN_LISTEN: '127.0.0.1:0',
      AUTH_SHIM_SECRET: 'agents/creds',
      AUTH_SHIM_SECRET_OAUTH_TOKEN_KEY: 'token',
      KUBECONFIG: '/nonexistent',
    });
    await s.listening;
    expect(s.output()).not.toMatch(/ERR_MODULE_NOT_FOUND|Cannot find (module|package)/);
    expect(await stop(s)).toBe(0);
  });

  it('starts `auth-shim webhook` with certificate files and answers /readyz', async () => {
    const bundle = await makeBundle();
    const tls = join(app, 'tls');
    await mkdir(tls);
    await writeFile(join(tls, 'tls.crt'), bundle.cert);
    await writeFile(join(tls, 'tls.key'), bundle.key);
    const s = start(['webhook'], {
      AUTH_SHIM_SIDECAR_IMAGE: 'ghcr.io/auth-shim/auth-shim:0.1.0',
      AUTH_SHIM_NAMESPACE: 'auth-shim-system',
      AUTH_SHIM_WEBHOOK_LISTEN: '127.0.0.1:0',
      AUTH_SHIM_ADMIN_LISTEN: '127.0.0.1:0',
      AUTH_SHIM_WEBHOOK_TLS_CERT_FILE: join(tls, 'tls.crt'),
      AUTH_SHIM_WEBHOOK_TLS_KEY_FILE: join(tls, 'tls.key'),
    });
    const { admin } = await s.listening;
    expect((await get(`${admin}/readyz`)).status).toBe(200);
    expect(await stop(s)).toBe(0);
  });

  it('runs `auth-shim inject` on a manifest', async () => {
    const pod =
      'apiVersion: v1\nkind: Pod\nmetadata:\n  name: agent\n  namespace: ai\n  annotations:\n' +
      '    auth-shim.io/inject: "true"\nspec:\n  containers:\n    - name: agent\n      image: agent:1\n';
    const s = start(
      ['inject', '-'],
      {
        AUTH_SHIM_SIDECAR_IMAGE: 'ghcr.io/auth-shim/auth-shim:0.1.0',
        AUTH_SHIM_DEFAULT_UPSTREAM_URL: 'http://litellm.ai.svc:4000/anthropic',
      },
      pod,
    );
    s.listening.catch(() => undefined);
    const code = await new Promise<number | null>((resolve) => s.child.once('exit', resolve));
    expect(code, s.output()).toBe(0);
    expect(s.output()).toContain('auth-shim.io/status: injected');
  });
});
