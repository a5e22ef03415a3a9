import { rename, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { request } from 'undici';
import { json, message, requestId, sse } from '../../src/demo/fake-anthropic.js';
import { API_KEY, LITELLM_KEY, OAUTH, OAUTH_2, startShim, type Shim } from '../helpers/shim.js';

/** A subscription in good standing (captured header shapes: see src/telemetry/ratelimit.ts). */
const UNIFIED_ALLOWED = {
  'anthropic-ratelimit-unified-status': 'allowed',
  'anthropic-ratelimit-unified-reset': '1785182400',
  'anthropic-ratelimit-unified-representative-claim': 'five_hour',
  'anthropic-ratelimit-unified-5h-status': 'allowed',
  'anthropic-ratelimit-unified-5h-reset': '1785182400',
  'anthropic-ratelimit-unified-5h-utilization': '0.42',
  'anthropic-ratelimit-unified-7d-status': 'allowed',
  'anthropic-ratelimit-unified-7d-reset': '1785751200',
  'anthropic-ratelimit-unified-7d-utilization': '0.3',
  'anthropic-ratelimit-unified-fallback-percentage': '0.5',
  'anthropic-ratelimit-unified-overage-status': 'rejected',
  'anthropic-ratelimit-unified-overage-disabled-reason': 'org_level_disabled',
};

/** The same subscription out of its 5-hour limit but running on extra usage ("overage"). */
const UNIFIED_OVERAGE = {
  'anthropic-ratelimit-unified-status': 'rejected',
  'anthropic-ratelimit-unified-reset': '1785182400',
  'anthropic-ratelimit-unified-representative-claim': 'overage',
  'anthropic-ratelimit-unified-5h-status': 'rejected',
  'anthropic-ratelimit-unified-5h-utilization': '1.0',
  'anthropic-ratelimit-unified-overage-status': 'allowed',
  'anthropic-ratelimit-unified-overage-reset': '1787000000',
  'anthropic-ratelimit-unified-overage-utilization': '0.1',
};

/** API-key limits as LiteLLM's unified route re-exposes them (`llm_provider-` prefix). */
const CLASSIC_VIA_LITELLM = {
  'llm_provider-anthropic-ratelimit-requests-limit': '50',
  'llm_provider-anthropic-ratelimit-requests-remaining': '49',
  'llm_provider-anthropic-ratelimit-requests-reset': '2026-01-01T00:00:01Z',
  'llm_provider-anthropic-ratelimit-tokens-limit': '90000',
  'llm_provider-anthropic-ratelimit-tokens-remaining': '89000',
  'llm_provider-anthropic-ratelimit-tokens-reset': '2026-01-01T00:00:02Z',
  'llm_provider-anthropic-ratelimit-input-tokens-limit': '80000',
  'llm_provider-anthropic-ratelimit-input-tokens-remaining': '79000',
  'llm_provider-anthropic-ratelimit-input-tokens-reset': '2026-01-01T00:00:03Z',
  'llm_provider-anthropic-ratelimit-output-tokens-limit': '10000',
  'llm_provider-anthropic-ratelimit-output-tokens-remaining': '9990',
  'llm_provider-anthropic-ratelimit-output-tokens-reset': '2026-01-01T00:00:04Z',
};

export interface Call {
  readonly method?: string;
  readonly path?: string;
  readonly headers?: string[];
  readonly body?: string | Buffer;
}

/** One request through the shim with a real undici client; the body is read to the end. */
export async function call(shim: Shim, c: Call = {}): Promise<number> {
  const body =
    c.body ??
    JSON.stringify({ model: 'claude-sonnet-4-5', max_tokens: 16, messages: [{ role: 'user', content: 'hi' }] });
  const method = c.method ?? 'POST';
  const res = await request(`${shim.proxy.url}${c.path ?? '/v1/messages'}`, {
    method: method as 'POST',
    dispatcher: shim.client,
    headers: ['content-type', 'application/json', 'anthropic-version', '2023-06-01', ...(c.headers ?? [])],
    ...(method === 'GET' || method === 'HEAD' ? {} : { body }),
  });
  await res.body.arrayBuffer();
  return res.statusCode;
}

/** Replaces a file the way a Secret update does: a complete new file renamed into place. */
async function rotate(file: string, content: string): Promise<void> {
  await writeFile(`${file}.tmp`, content);
  await rename(`${file}.tmp`, file);
}

/**
 * The shim holds the credentials (client-first): every success path, each error the shim makes
 * that can be provoked on loopback, and credential loading, rotation and a rejected update.
 * Returns the status codes in order, so a test can check the script did what it says. `env`
 * overrides the shim's settings (test/telemetry/prometheus-scrape.test.ts sets a near expiry).
 */
export async function runShimCredentialScript(
  env: Record<string, string> = {},
): Promise<{ shim: Shim; statuses: number[] }> {
  const shim = await startShim({
    files: { litellm: `${LITELLM_KEY}\n` },
    env: {
      AUTH_SHIM_OAUTH_TOKEN_FILE: '{dir}/oauth',
      AUTH_SHIM_LITELLM_KEY_FILE: '{dir}/litellm',
      AUTH_SHIM_OAUTH_TOKEN_EXPIRES_AT: '2027-01-01T00:00:00Z',
      AUTH_SHIM_ALLOWED_CREDENTIALS: 'oauth',
      AUTH_SHIM_MAX_BODY_BYTES: '1024',
      AUTH_SHIM_UPSTREAM_HEADERS_TIMEOUT_MS: '1500',
      AUTH_SHIM_CREDENTIAL_RELOAD_INTERVAL_MS: '3600000',
      ...env,
    },
  });
  const { fake, proxy } = shim;
  const oauthFile = join(shim.dir, 'oauth');
  const s: number[] = [];

  // The OAuth Secret has not been mounted yet: retryable 503, nothing forwarded.
  s.push(await call(shim));
  await rotate(oauthFile, `${OAUTH}\n`);
  await proxy.credentials.reloadAll();

  // Success, JSON, with the subscription's unified headers.
  fake.respond = (_req, res) => json(res, 200, message('claude-sonnet-4-5', 'hello'), UNIFIED_ALLOWED);
  s.push(await call(shim));
  // Success, SSE stream, with API-key limits as LiteLLM re-exposes them.
  fake.respond = (_req, res) => {
    for (const [k, v] of Object.entries(CLASSIC_VIA_LITELLM)) res.setHeader(k, v);
    void sse(res, { model: 'claude-opus-4-1' });
  };
  s.push(
    await call(shim, {
      body: JSON.stringify({ model: 'claude-opus-4-1', stream: true, max_tokens: 16, messages: [] }),
    }),
  );
  // Success without usage (model list): counted as a request, no tokens.
  fake.respond = (req, res) =>
    json(res, 200, { data: [], has_more: false, first_id: null, last_id: null, path: req.url });
  s.push(await call(shim, { method: 'GET', path: '/v1/models' }));
  // Success, compressed: the tap does not decompress, it counts a skip.
  const gz = gzipSync(JSON.stringify(message('claude-sonnet-4-5', 'zipped')));
  fake.respond = (_req, res) => {
    res.writeHead(200, {
      'content-type': 'application/json',
      'content-encoding': 'gzip',
      'content-length': gz.length,
      'request-id': requestId(),
    });
    res.end(gz);
  };
  s.push(await call(shim, { headers: ['accept-encoding', 'gzip'] }));

  // Errors the shim answers itself.
  s.push(await call(shim, { headers: ['x-api-key', API_KEY] })); // 403 credential_not_allowed (oauth only)
  s.push(await call(shim, { headers: ['x-api-key', OAUTH, 'x-api-key', OAUTH_2] })); // 400 ambiguous_credential
  s.push(await call(shim, { method: 'GET', path: `/admin/secrets?token=${OAUTH}` })); // 404 path_not_allowed
  s.push(await call(shim, { method: 'DELETE', path: '/v1/messages' })); // 405 method_not_allowed
  s.push(await call(shim, { body: Buffer.alloc(2048, 0x20) })); // 413 body_too_large

  // The upstream's own rate-limit answer passes through (not a shim error), headers recorded.
  fake.respond = (_req, res) =>
    json(
      res,
      429,
      { type: 'error', error: { type: 'rate_limit_error', message: 'limit' }, request_id: requestId() },
      { ...UNIFIED_OVERAGE, 'retry-after': '3600' },
    );
  s.push(await call(shim));

  // Upstream transport failures.
  fake.respond = (_req, res) => {
    res.socket?.destroy(); // 502 upstream_reset
  };
  s.push(await call(shim));
  fake.respond = () => undefined; // never answers: 504 upstream_headers_timeout
  s.push(await call(shim));

  // Rotation: a new token is loaded; an unchanged re-read; a bad update is refused, last good kept.
  await rotate(oauthFile, `${OAUTH_2}\n`);
  await proxy.credentials.reloadAll();
  await proxy.credentials.reloadAll();
  // (No rate-limit headers: the gauges keep the state the 429 reported.)
  fake.respond = (_req, res) => json(res, 200, message('claude-sonnet-4-5', 'rotated'));
  s.push(await call(shim));
  await rotate(oauthFile, 'not-a-token\n');
  await proxy.credentials.reloadAll();

  // The upstream goes away: 502 upstream_unreachable (after the one connect retry).
  await fake.close();
  s.push(await call(shim));
  return { shim, statuses: s };
}

export const SHIM_SCRIPT_STATUSES = [503, 200, 200, 200, 200, 403, 400, 404, 405, 413, 429, 502, 504, 200, 502];

/** The client holds the credential (client-only): the one case where a missing credential is 401. */
export async function runClientOnlyScript(): Promise<{ shim: Shim; statuses: number[] }> {
  const shim = await startShim({
    files: { litellm: `${LITELLM_KEY}\n` },
    env: {
      AUTH_SHIM_LITELLM_KEY_FILE: '{dir}/litellm',
      AUTH_SHIM_CREDENTIAL_SOURCE: 'client-only',
      AUTH_SHIM_CREDENTIAL_RELOAD_INTERVAL_MS: '3600000',
    },
  });
  const s: number[] = [];
  s.push(await call(shim)); // 401 missing_credential
  s.push(await call(shim, { headers: ['x-api-key', OAUTH] })); // Claude Code with ANTHROPIC_API_KEY=sk-ant-oat…
  s.push(await call(shim, { headers: ['authorization', `Bearer ${API_KEY}`] })); // SDK 1.x with an API key
  await rotate(join(shim.dir, 'litellm'), 'sk-litellm-rotated-TESTKEY-fedcba9876543210\n');
  await shim.proxy.credentials.reloadAll();
  await shim.proxy.credentials.reloadAll(); // an `unchanged` read, whatever the file watcher does
  s.push(await call(shim, { headers: ['x-api-key', OAUTH] }));
  return { shim, statuses: s };
}

export const CLIENT_ONLY_STATUSES = [401, 200, 200, 200];
