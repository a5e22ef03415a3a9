import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';

/**
 * The real peers auth-shim must agree with, installed once into `.peers/` (git-ignored, kept
 * across `npm ci`) and reused: LiteLLM from PyPI in a virtualenv per version, the Claude Code CLI
 * from npm. Installs take a lock so parallel test runs never build the same directory twice.
 */
export const PEERS_DIR = fileURLToPath(new URL('../../.peers/', import.meta.url));

/**
 * facts.md §3's known-good pin; 1.82.6, the last clean release that still wraps errors in its
 * envelope; and 1.82.4, the last release that adds `x-api-key: None` (its source and a real run
 * show 1.82.5 stopped). Never 1.82.7, 1.82.8 or 1.107.0.
 */
export const LITELLM_NEW = '1.106.4';
export const LITELLM_OLD = '1.82.6';
export const LITELLM_NONE_KEY = '1.82.4';
export const CLAUDE_CODE = '2.1.330';

/**
 * LiteLLM 1.106.x requires certifi ≥ 2026.10.19, which the package index here does not serve yet;
 * certifi is only a CA bundle (these tests use loopback HTTP), so a one-day-older one is safe.
 */
const LITELLM_OVERRIDES: Record<string, string[]> = { [LITELLM_NEW]: ['certifi==2026.10.18'] };

const run = promisify(execFile);

async function withLock<T>(name: string, fn: () => Promise<T>): Promise<T> {
  const lock = join(PEERS_DIR, `${name}.lock`);
  await mkdir(PEERS_DIR, { recursive: true });
  for (let waited = 0; ; waited += 500) {
    try {
      await mkdir(lock);
      break;
    } catch {
      if (waited > 15 * 60_000) throw new Error(`gave up waiting for ${lock} (remove it if no install is running)`);
      await new Promise((r) => setTimeout(r, 500));
    }
  }
  try {
    return await fn();
  } finally {
    await rm(lock, { recursive: true, force: true });
  }
}

/**
 * Returns the `litellm` executable of a virtualenv with `litellm[proxy]==version`, installing it if needed.
 * `overrides` (uv `--override` lines) default to the pinned versions' own.
 */
export async function ensureLitellm(
  version: string,
  overrides: readonly string[] = LITELLM_OVERRIDES[version] ?? [],
): Promise<string> {
  const dir = join(PEERS_DIR, `litellm-${version}`);
  const bin = join(dir, 'bin', 'litellm');
  const ok = join(dir, '.installed');
  if (existsSync(ok)) return bin;
  return withLock(`litellm-${version}`, async () => {
    if (existsSync(ok)) return bin;
    await rm(dir, { recursive: true, force: true });
    await run('python3', ['-m', 'venv', dir]);
    // uv resolves and installs in seconds, and can override a pin the index cannot satisfy.
    await run(join(dir, 'bin', 'pip'), ['install', '--quiet', 'uv'], { maxBuffer: 64 << 20 });
    const overridesFile = join(dir, 'overrides.txt');
    await writeFile(overridesFile, overrides.join('\n'));
    await run(
      join(dir, 'bin', 'uv'),
      [
        'pip',
        'install',
        '--quiet',
        '--python',
        join(dir, 'bin', 'python'),
        '--override',
        overridesFile,
        `litellm[proxy]==${version}`,
      ],
      { maxBuffer: 64 << 20 },
    );
    await writeFile(ok, `${new Date().toISOString()}\n`);
    return bin;
  });
}

/** Returns the `claude` executable of `@anthropic-ai/claude-code@version`, installing it if needed. */
export async function ensureClaudeCode(version: string): Promise<string> {
  const dir = join(PEERS_DIR, `claude-code-${version}`);
  const bin = join(dir, 'node_modules', '.bin', 'claude');
  const ok = join(dir, '.installed');
  if (existsSync(ok)) return bin;
  return withLock(`claude-code-${version}`, async () => {
    if (existsSync(ok)) return bin;
    await mkdir(dir, { recursive: true });
    await writeFile(join(dir, 'package.json'), JSON.stringify({ name: 'auth-shim-peer-claude-code', private: true }));
    // Install scripts must run: the CLI's native binary comes from an optional dependency that its
    // postinstall links into place (facts.md §2).
    await run('npm', ['install', '--no-audit', '--no-fund', '--no-save', `@anthropic-ai/claude-code@${version}`], {
      cwd: dir,
      maxBuffer: 64 << 20,
    });
    const { stdout } = await run(bin, ['--version'], {
      env: { ...process.env, HOME: await mkdtemp(join(tmpdir(), 'cc-home-')) },
    });
    if (!stdout.includes(version))
      throw new Error(`claude --version printed ${JSON.stringify(stdout)}, expected ${version}`);
    await writeFile(ok, `${new Date().toISOString()}\n`);
    return bin;
  });
}

export async function freePort(): Promise<number> {
  const s = createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  const { port } = s.address() as { port: number };
  await new Promise<void>((r) => s.close(() => r()));
  return port;
}

export interface Litellm {
  readonly version: string;
  /** Base URL of its `/anthropic` pass-through route. */
  readonly anthropicUrl: string;
  readonly origin: string;
  readonly masterKey: string;
  readonly logs: string[];
  stop(): Promise<void>;
}

/**
 * Starts a real LiteLLM proxy on loopback with no database, a random master key, no Anthropic
 * credential of its own (facts.md §3: a server credential would win over the client's) and its
 * Anthropic base pointed at `anthropicBase` (the recording fake). `host` is loopback, or the test
 * cluster's bridge address when pods must reach it (test/cluster).
 */
export async function startLitellm(
  version: string,
  anthropicBase: string,
  opts: {
    host?: string;
    bin?: string;
    env?: Record<string, string>;
    readyTimeoutMs?: number;
    /** More `general_settings` (e.g. `pass_through_endpoints`) next to the master key. */
    generalSettings?: Record<string, unknown>;
  } = {},
): Promise<Litellm> {
  const host = opts.host ?? '127.0.0.1';
  const bin = opts.bin ?? (await ensureLitellm(version));
  const dir = await mkdtemp(join(tmpdir(), `litellm-${version}-`));
  const masterKey = `sk-${randomBytes(16).toString('hex')}`;
  // JSON is YAML.
  await writeFile(
    join(dir, 'config.yaml'),
    JSON.stringify({ general_settings: { master_key: masterKey, ...opts.generalSettings } }),
  );
  const port = await freePort();
  const env: NodeJS.ProcessEnv = {
    PATH: process.env['PATH'],
    HOME: dir,
    ANTHROPIC_API_BASE: anthropicBase,
    LITELLM_LOCAL_MODEL_COST_MAP: 'True',
    LITELLM_LOCAL_ANTHROPIC_BETA_HEADERS: 'True',
    LITELLM_LOG: 'ERROR',
    NO_PROXY: '*',
    ...opts.env,
  };
  // Run by the virtualenv's own python, not by the script's shebang: pip writes the absolute path of
  // the venv it installed into there, and `.peers/` is shared by worktrees that come and go.
  const child: ChildProcess = spawn(
    join(dirname(bin), 'python'),
    [bin, '--config', join(dir, 'config.yaml'), '--host', host, '--port', String(port), '--num_workers', '1'],
    { env, stdio: ['ignore', 'pipe', 'pipe'], detached: true },
  );
  const logs: string[] = [];
  child.stdout?.on('data', (c: Buffer) => logs.push(c.toString()));
  child.stderr?.on('data', (c: Buffer) => logs.push(c.toString()));
  const origin = `http://${host}:${port}`;
  const stop = async (): Promise<void> => {
    if (child.exitCode === null && child.pid !== undefined) {
      try {
        process.kill(-child.pid, 'SIGTERM');
      } catch {
        // already gone
      }
      await new Promise((r) => {
        const t = setTimeout(() => {
          try {
            if (child.pid !== undefined) process.kill(-child.pid, 'SIGKILL');
          } catch {
            // gone
          }
          r(undefined);
        }, 5_000);
        child.once('exit', () => (clearTimeout(t), r(undefined)));
      });
    }
    await rm(dir, { recursive: true, force: true });
  };
  const readyMs = opts.readyTimeoutMs ?? 90_000;
  const deadline = Date.now() + readyMs;
  for (;;) {
    if (child.exitCode !== null)
      throw new Error(`LiteLLM ${version} exited with ${child.exitCode}:\n${logs.join('').slice(-3000)}`);
    try {
      const res = await fetch(`${origin}/health/readiness`);
      if (res.ok) {
        const body = (await res.json()) as { litellm_version?: string };
        if (body.litellm_version !== undefined && body.litellm_version !== version) {
          await stop();
          throw new Error(`LiteLLM reports ${body.litellm_version}, expected ${version}`);
        }
        break;
      }
    } catch (err) {
      if ((err as Error).message.startsWith('LiteLLM reports')) throw err;
    }
    if (Date.now() > deadline) {
      await stop();
      throw new Error(`LiteLLM ${version} not ready in ${readyMs / 1000} s:\n${logs.join('').slice(-3000)}`);
    }
    await new Promise((r) => setTimeout(r, 250));
  }
  return { version, anthropicUrl: `${origin}/anthropic`, origin, masterKey, logs, stop };
}

/** Reads a file if it exists (for diagnostics in failure messages). */
export async function tail(path: string): Promise<string> {
  return readFile(path, 'utf8').then(
    (t) => t.slice(-2000),
    () => '',
  );
}
