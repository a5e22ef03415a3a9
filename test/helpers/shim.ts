import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { Registry } from 'prom-client';
import { Agent, request } from 'undici';
import { claudeCodeRequest } from '../../src/demo/claude-code-request.js';
import { loadProxyConfig } from '../../src/config/proxy-config.js';
import { KnownSecrets } from '../../src/credentials/known-secrets.js';
import { startFakeAnthropic, type FakeAnthropic } from '../../src/demo/fake-anthropic.js';
import { startProxy, type RunningProxy } from '../../src/app/sidecar.js';
import { createLogger } from '../../src/telemetry/logger.js';

/** Realistic-looking, made-up secrets; tests grep logs, bodies and metrics for them. */
export const OAUTH = `sk-ant-oat01-${'Aa1Bb2Cc3Dd4'.repeat(8)}-TESTOAUTH`;
export const OAUTH_2 = `sk-ant-oat01-${'Zz9Yy8Xx7Ww6'.repeat(8)}-ROTATED`;
export const API_KEY = `sk-ant-api03-${'Qq5Rr6Ss7Tt8'.repeat(8)}-TESTAPIKEY`;
export const LITELLM_KEY = 'sk-litellm-virtual-TESTKEY-0123456789abcdef';
export const SECRETS = [OAUTH, OAUTH_2, API_KEY, LITELLM_KEY];

export interface Shim {
  readonly proxy: RunningProxy;
  readonly fake: FakeAnthropic;
  readonly dir: string;
  readonly logs: string[];
  /** undici dispatcher with short keep-alive so sockets don't hold the test open. */
  readonly client: Agent;
  close(): Promise<void>;
}

export interface ShimOptions {
  /** Extra AUTH_SHIM_* variables; `{dir}` in values is replaced by the temp directory. */
  readonly env?: Record<string, string>;
  /** Files to create in the temp directory before start: name → content. */
  readonly files?: Record<string, string>;
  readonly upstream?: FakeAnthropic;
  readonly upstreamUrl?: string;
  readonly logLevel?: string;
}

/** Starts a recording fake Anthropic and a shim in front of it, both on 127.0.0.1:0. */
export async function startShim(opts: ShimOptions = {}): Promise<Shim> {
  const dir = await mkdtemp(join(tmpdir(), 'auth-shim-test-'));
  for (const [name, content] of Object.entries(opts.files ?? {})) await writeFile(join(dir, name), content);
  const fake = opts.upstream ?? (await startFakeAnthropic());
  const env: Record<string, string> = {
    AUTH_SHIM_UPSTREAM_URL: opts.upstreamUrl ?? fake.url,
    AUTH_SHIM_LISTEN: '127.0.0.1:0',
    AUTH_SHIM_ADMIN_LISTEN: '127.0.0.1:0',
    AUTH_SHIM_LOG_LEVEL: opts.logLevel ?? 'debug',
    // `auto` derives the cap from this machine's heap; golden expositions need one fixed value.
    AUTH_SHIM_MAX_INFLIGHT_REQUESTS: '1024',
  };
  for (const [k, v] of Object.entries(opts.env ?? {})) env[k] = v.replaceAll('{dir}', dir);
  const logs: string[] = [];
  const sink = new Writable({
    write(chunk: Buffer, _enc, cb) {
      logs.push(
        ...chunk
          .toString('utf8')
          .split('\n')
          .filter((l) => l !== ''),
      );
      cb();
    },
  });
  const secrets = new KnownSecrets();
  const log = createLogger(loadProxyConfig(env).logLevel, sink, secrets.mask);
  const proxy = await startProxy(loadProxyConfig(env), {
    log,
    secrets,
    registry: new Registry(),
    defaultMetrics: false,
  });
  const client = new Agent({ keepAliveTimeout: 10, keepAliveMaxTimeout: 10 });
  return {
    proxy,
    fake,
    dir,
    logs,
    client,
    async close() {
      await client.close();
      await proxy.shutdown();
      if (opts.upstream === undefined) await fake.close();
      await rm(dir, { recursive: true, force: true });
    },
  };
}

/** Parsed JSON log lines. */
export function logLines(shim: Shim): Array<Record<string, unknown>> {
  return shim.logs.map((l) => JSON.parse(l) as Record<string, unknown>);
}

/** Polls `check` until it is true or the bound passes; for asynchronous effects, not for timing. */
export async function eventually(check: () => boolean | Promise<boolean>, boundMs = 5_000): Promise<void> {
  const until = Date.now() + boundMs;
  while (!(await check())) {
    if (Date.now() > until) throw new Error(`condition not met within ${boundMs} ms`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

/** A Claude-Code-shaped streaming request through the shim, the client's key being `clientKey`. */
export async function sendClaudeCode(
  shim: Shim,
  clientKey = 'auth-shim-placeholder',
): Promise<{ status: number; headers: Record<string, unknown>; body: string }> {
  const { headers, body } = claudeCodeRequest(clientKey);
  const res = await request(`${shim.proxy.url}/v1/messages?beta=true`, {
    method: 'POST',
    headers,
    body,
    dispatcher: shim.client,
  });
  return { status: res.statusCode, headers: res.headers, body: await res.body.text() };
}
