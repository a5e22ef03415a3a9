import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { chmod, mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, beforeAll } from 'vitest';
import { startFakeAnthropic, type FakeAnthropic } from '../../src/demo/fake-anthropic.js';
import { startShim, type Shim } from '../helpers/shim.js';
import { ensureLitellm, startLitellm, type Litellm } from './_peers.js';
import { startPostgres, type Postgres } from './_postgres.js';

const run = promisify(execFile);

/** prisma-client-py version LiteLLM's `extra_proxy` extra pins; 1.106.4 no longer installs it by itself. */
const PRISMA_PY = '0.15.0';
const ENGINE_DIR = fileURLToPath(new URL('./prisma-engine/', import.meta.url));
const HOOKS = fileURLToPath(new URL('../../bench/hooks.ts', import.meta.url));

/** Executables prisma-client-py and the Prisma CLI are pointed at, in `dir`. */
export async function engineBinaries(dir: string): Promise<{ query: string; schema: string }> {
  const query = join(dir, 'query-engine');
  const schema = join(dir, 'schema-engine');
  // The query engine is this project's WebAssembly-backed server (prisma-engine/server.ts), run by the Node that
  // runs the tests.
  await writeFile(
    query,
    `#!/bin/sh\nexec ${JSON.stringify(process.execPath)} --import ${JSON.stringify(HOOKS)} ` +
      `${JSON.stringify(join(ENGINE_DIR, 'server.ts'))} "$@"\n`,
  );
  // No schema engine: the schema comes from SQL migrations (applyMigrations); LiteLLM's boot-time
  // `prisma migrate diff` fails against this stub and LiteLLM carries on ("no diff").
  await writeFile(
    schema,
    '#!/bin/sh\n' +
      '[ "$1" = --version ] && echo "schema-engine-cli 393aa359c9ad4a4bb28630fb5613f9c281cde053" && exit 0\n' +
      'exit 1\n',
  );
  await chmod(query, 0o755);
  await chmod(schema, 0o755);
  return { query, schema };
}

function prismaEnv(bins: { query: string; schema: string }): Record<string, string> {
  return {
    PRISMA_QUERY_ENGINE_BINARY: bins.query,
    PRISMA_SCHEMA_ENGINE_BINARY: bins.schema,
    PRISMA_ENGINES_CHECKSUM_IGNORE_MISSING: '1',
    PRISMA_HIDE_UPDATE_MESSAGE: '1',
  };
}

async function sitePackages(venv: string): Promise<string> {
  const lib = join(venv, 'lib');
  const py = (await readdir(lib)).find((d) => d.startsWith('python'));
  if (py === undefined) throw new Error(`no python under ${lib}`);
  return join(lib, py, 'site-packages');
}

/**
 * LiteLLM `version` with prisma-client-py installed and its client generated from LiteLLM's own
 * schema (once per virtualenv; the Prisma CLI it runs comes from the npm registry).
 */
export async function ensureLitellmDb(version: string): Promise<{ bin: string; venv: string; site: string }> {
  const bin = await ensureLitellm(version);
  const venv = dirname(dirname(bin));
  const site = await sitePackages(venv);
  const ok = join(venv, '.prisma-generated');
  if (!existsSync(ok)) {
    const tmp = await mkdtemp(join(tmpdir(), 'prisma-gen-'));
    try {
      await run(
        join(venv, 'bin', 'uv'),
        ['pip', 'install', '--quiet', '--python', join(venv, 'bin', 'python'), `prisma==${PRISMA_PY}`],
        { maxBuffer: 64 << 20 },
      );
      const env = {
        ...process.env,
        ...prismaEnv(await engineBinaries(tmp)),
        PATH: `${join(venv, 'bin')}:${process.env['PATH'] ?? ''}`,
      };
      await run(
        join(venv, 'bin', 'prisma'),
        ['generate', '--schema', join(site, 'litellm', 'proxy', 'schema.prisma')],
        { cwd: tmp, env, maxBuffer: 64 << 20 },
      );
      await writeFile(ok, `${new Date().toISOString()}\n`);
    } finally {
      await rm(tmp, { recursive: true, force: true });
    }
  }
  return { bin, venv, site };
}

/**
 * LiteLLM's schema as its releases ship it: `litellm-proxy-extras`' SQL migrations, applied in
 * folder-name order (one folder name has spaces; skipping it breaks spend logging).
 */
export async function applyMigrations(pg: Postgres, site: string): Promise<number> {
  const root = join(site, 'litellm_proxy_extras', 'migrations');
  const folders = (await readdir(root, { withFileTypes: true }))
    .filter((d) => d.isDirectory())
    .map((d) => d.name)
    .sort();
  const files = folders.map((f) => join(root, f, 'migration.sql')).filter((f) => existsSync(f));
  await pg.psql(files.flatMap((f) => ['-f', f]));
  return files.length;
}

export interface LitellmDb extends Litellm {
  readonly postgres: Postgres;
  /** `POST /key/generate` with the master key; returns the new virtual key. */
  generateKey(body?: Record<string, unknown>): Promise<string>;
  deleteKey(key: string): Promise<void>;
}

/** A real LiteLLM `version` on its own PostgreSQL, so virtual keys, budgets and spend are real. */
export async function startLitellmDb(
  version: string,
  anthropicBase: string,
  extraEnv: Record<string, string> = {},
): Promise<LitellmDb> {
  const { bin, venv, site } = await ensureLitellmDb(version);
  const postgres = await startPostgres();
  const engines = await mkdtemp(join(tmpdir(), 'prisma-engines-'));
  try {
    await applyMigrations(postgres, site);
    const litellm = await startLitellm(version, anthropicBase, {
      bin,
      env: {
        ...prismaEnv(await engineBinaries(engines)),
        PATH: `${join(venv, 'bin')}:${process.env['PATH'] ?? ''}`,
        DATABASE_URL: postgres.url,
        DISABLE_SCHEMA_UPDATE: 'true',
        // Its own proxy-side batch writes (spend, key usage) flush every 10 s by default; 1 s keeps budget tests short.
        PROXY_BATCH_WRITE_AT: '1',
        ...extraEnv,
        ...(process.env['PRISMA_ENGINE_TRACE'] === undefined
          ? {}
          : { PRISMA_ENGINE_TRACE: process.env['PRISMA_ENGINE_TRACE'] }),
      },
      // Prisma setup adds ~20–30 s to LiteLLM's start on a quiet machine.
      readyTimeoutMs: 300_000,
    });
    const admin = async (path: string, body: unknown): Promise<Record<string, unknown>> => {
      const res = await fetch(`${litellm.origin}${path}`, {
        method: 'POST',
        headers: { authorization: `Bearer ${litellm.masterKey}`, 'content-type': 'application/json' },
        body: JSON.stringify(body),
      });
      const text = await res.text();
      if (!res.ok) throw new Error(`LiteLLM ${version} ${path} → ${res.status}: ${text}`);
      return JSON.parse(text) as Record<string, unknown>;
    };
    return {
      ...litellm,
      postgres,
      generateKey: async (body = {}) => (await admin('/key/generate', body))['key'] as string,
      deleteKey: async (key) => void (await admin('/key/delete', { keys: [key] })),
      stop: async () => {
        await litellm.stop();
        await postgres.stop();
        await rm(engines, { recursive: true, force: true });
      },
    };
  } catch (err) {
    await postgres.stop();
    await rm(engines, { recursive: true, force: true });
    throw err;
  }
}

export interface Chain {
  fake: FakeAnthropic;
  litellm: LitellmDb;
  /**
   * The virtual key (`/key/generate`, no budget) the shim holds as its LiteLLM key: what users run, not the
   * master key.
   */
  key: string;
  /** The shim in front of LiteLLM's `/anthropic`, holding `key`. */
  shim: Shim;
}

/**
 * Registers beforeAll/afterAll for agent → shim → real LiteLLM `version` on PostgreSQL → recording
 * fake Anthropic. The returned object is filled in by beforeAll; pass a fake to share one across chains.
 */
export function litellmChain(version: string, shared?: () => FakeAnthropic): Chain {
  const chain = {} as Chain;
  beforeAll(async () => {
    chain.fake = shared?.() ?? (await startFakeAnthropic());
    chain.litellm = await startLitellmDb(version, chain.fake.url);
    chain.key = await chain.litellm.generateKey({ key_alias: 'e2e-agent' });
    chain.shim = await startShim({
      upstream: chain.fake,
      upstreamUrl: chain.litellm.anthropicUrl,
      files: { litellm: chain.key },
      env: { AUTH_SHIM_LITELLM_KEY_FILE: '{dir}/litellm' },
    });
  }, 400_000);
  afterAll(async () => {
    await chain.shim?.close();
    await chain.litellm?.stop();
    if (shared === undefined) await chain.fake?.close();
  });
  return chain;
}
