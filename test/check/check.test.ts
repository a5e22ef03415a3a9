import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { litellmVerdict } from '../../src/check/litellm-version.js';
import { runChecks } from '../../src/check/run-checks.js';
import { loadProxyConfig } from '../../src/config/proxy-config.js';
import { LITELLM_KEY, OAUTH } from '../helpers/shim.js';

describe('LiteLLM version verdicts (from its source: `x-api-key: None` until 1.82.4)', () => {
  it.each([
    ['1.74.13', false],
    ['1.80.0', false],
    ['1.82.4', false],
    ['1.82.5', true],
    ['1.82.6', true],
    ['1.83.0', true],
    ['1.106.4', true],
    ['v1.90.1', true],
  ])('%s can carry OAuth: %s', (version, oauth) => {
    expect(litellmVerdict(version).oauth).toBe(oauth);
  });
  it.each(['1.82.7', '1.82.8', '1.107.0'])('%s is flagged as compromised', (version) => {
    const v = litellmVerdict(version);
    expect(v.compromised).toBe(true);
    expect(v.notes[0]).toContain('malicious/compromised');
  });
  it.each([
    ['1.74.13', true],
    ['1.82.6', true],
    ['1.102.4', true],
    ['1.103.0', false],
    ['1.106.4', false],
  ])('%s forwards x-litellm-api-key to Anthropic: %s (bisected, docs/PEERS.md)', (version, forwards) => {
    expect(litellmVerdict(version).forwardsKey).toBe(forwards);
  });
  it('an unparseable version is said so', () => {
    expect(litellmVerdict('main-latest').notes.join()).toContain('cannot parse');
  });
});

let server: Server | undefined;
let dir: string | undefined;
afterEach(async () => {
  server?.closeAllConnections();
  await new Promise((r) => (server ? server.close(() => r(undefined)) : r(undefined)));
  server = undefined;
  if (dir !== undefined) await rm(dir, { recursive: true, force: true });
  dir = undefined;
});

/**
 * Which of LiteLLM's routes state its version: readiness up to 1.8x, the model hub info in 1.82.6 and 1.106.4,
 * the OpenAPI document always.
 */
type VersionRoutes = 'readiness' | 'hub' | 'openapi-only';

/** A stand-in for LiteLLM's readiness, version and model-list routes (the real one runs in test/e2e). */
async function fakeLitellm(version: string, acceptKey: string, routes: VersionRoutes = 'readiness'): Promise<string> {
  server = createServer((req, res) => {
    const json = (body: unknown): void =>
      void res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(body));
    if (req.url === '/health/readiness')
      return json(
        routes === 'readiness'
          ? { status: 'healthy', litellm_version: version }
          : { status: 'healthy', db: 'Not connected' },
      );
    if (req.url === '/public/model_hub/info' && routes !== 'openapi-only')
      return json({ docs_title: 'LiteLLM API', litellm_version: version });
    if (req.url === '/openapi.json') return json({ info: { title: 'LiteLLM API', version } });
    if (req.url === '/v1/models')
      return void res.writeHead(req.headers['x-litellm-api-key'] === acceptKey ? 200 : 401).end('{}');
    res.writeHead(404).end();
  });
  await new Promise<void>((r) => server?.listen(0, '127.0.0.1', r));
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}/anthropic`;
}

async function files(entries: Record<string, string>): Promise<string> {
  dir = await mkdtemp(join(tmpdir(), 'check-unit-'));
  for (const [k, v] of Object.entries(entries)) await writeFile(join(dir, k), v);
  return dir;
}

describe('runChecks', () => {
  it('all good: ok, kinds and expiry reported, values masked', async () => {
    const up = await fakeLitellm('1.106.4', LITELLM_KEY);
    const d = await files({ token: OAUTH, key: LITELLM_KEY });
    const expires = new Date(Date.now() + 200 * 86_400_000).toISOString();
    const report = await runChecks(
      loadProxyConfig({
        AUTH_SHIM_UPSTREAM_URL: up,
        AUTH_SHIM_OAUTH_TOKEN_FILE: join(d, 'token'),
        AUTH_SHIM_LITELLM_KEY_FILE: join(d, 'key'),
        AUTH_SHIM_OAUTH_TOKEN_EXPIRES_AT: expires,
      }),
    );
    expect(report.ok).toBe(true);
    expect(report.checks.map((c) => [c.name, c.status])).toEqual([
      ['configuration', 'ok'],
      ['oauth', 'ok'],
      ['litellm-key', 'ok'],
      ['upstream', 'ok'],
      ['litellm version', 'ok'],
      ['litellm key', 'ok'],
    ]);
    const text = JSON.stringify(report);
    expect(text).toContain('subscription OAuth token sk-ant-oat01-***');
    expect(text).toContain('(in 200 days)');
    expect(text).not.toContain(OAUTH);
    expect(text).not.toContain(LITELLM_KEY);
  });

  it('fails on a missing file, a token expiring soon warns, an expired one fails, a refused key fails', async () => {
    const up = await fakeLitellm('1.106.4', 'something-else');
    const d = await files({ token: OAUTH });
    // Another directory (another Secret): a missing key in the token's own Secret would hold the token too
    // (all or nothing).
    const soon = await runChecks(
      loadProxyConfig({
        AUTH_SHIM_UPSTREAM_URL: up,
        AUTH_SHIM_OAUTH_TOKEN_FILE: join(d, 'token'),
        AUTH_SHIM_LITELLM_KEY_FILE: join(d, 'other-secret', 'nope'),
        AUTH_SHIM_OAUTH_TOKEN_EXPIRES_AT: new Date(Date.now() + 3 * 86_400_000).toISOString(),
      }),
    );
    expect(soon.ok).toBe(false);
    expect(soon.checks.find((c) => c.name === 'oauth')?.status).toBe('warn');
    expect(soon.checks.find((c) => c.name === 'litellm-key')).toMatchObject({
      status: 'fail',
      detail: expect.stringContaining('does not exist'),
    });
    const expired = await runChecks(
      loadProxyConfig({
        AUTH_SHIM_UPSTREAM_URL: up,
        AUTH_SHIM_OAUTH_TOKEN_FILE: join(d, 'token'),
        AUTH_SHIM_OAUTH_TOKEN_EXPIRES_AT: '2020-01-01T00:00:00Z',
      }),
    );
    expect(expired.checks.find((c) => c.name === 'oauth')).toMatchObject({
      status: 'fail',
      detail: expect.stringContaining('EXPIRED'),
    });
    await writeFile(join(d, 'key'), LITELLM_KEY);
    const refused = await runChecks(
      loadProxyConfig({ AUTH_SHIM_UPSTREAM_URL: up, AUTH_SHIM_LITELLM_KEY_FILE: join(d, 'key') }),
    );
    expect(refused.checks.find((c) => c.name === 'litellm key')).toMatchObject({
      status: 'fail',
      detail: expect.stringContaining('refused by LiteLLM (GET /v1/models → 401'),
    });
  });

  it.each([
    ['readiness', 'GET /health/readiness'],
    ['hub', 'GET /public/model_hub/info'],
    ['openapi-only', 'GET /openapi.json'],
  ] as const)(
    'the version comes from the cheapest route that states it (%s) and the source is reported',
    async (routes, source) => {
      const up = await fakeLitellm('1.106.4', LITELLM_KEY, routes);
      const report = await runChecks(loadProxyConfig({ AUTH_SHIM_UPSTREAM_URL: up }));
      expect(report).toMatchObject({ litellmVersion: '1.106.4', litellmVersionSource: source });
      expect(report.checks.find((c) => c.name === 'litellm version')?.detail).toMatch(
        new RegExp(`^1\\.106\\.4 \\(from ${source.replace(/[./]/g, '\\$&')}\\): can carry`),
      );
    },
  );

  it('a LiteLLM forwarding the virtual key to Anthropic is a warning when a key is configured, only then', async () => {
    const up = await fakeLitellm('1.102.4', LITELLM_KEY);
    const d = await files({ key: LITELLM_KEY });
    const withKey = await runChecks(
      loadProxyConfig({ AUTH_SHIM_UPSTREAM_URL: up, AUTH_SHIM_LITELLM_KEY_FILE: join(d, 'key') }),
    );
    expect(withKey.ok).toBe(true);
    expect(withKey.checks.find((c) => c.name === 'litellm key exposure')).toMatchObject({
      status: 'warn',
      detail: expect.stringContaining('1.102.4 forwards x-litellm-api-key to Anthropic'),
    });
    const without = await runChecks(loadProxyConfig({ AUTH_SHIM_UPSTREAM_URL: up }));
    expect(without.checks.find((c) => c.name === 'litellm key exposure')).toBeUndefined();
  });

  it('an unreachable upstream fails; shim-only shows the placeholder mapping', async () => {
    const d = await files({ token: OAUTH });
    const report = await runChecks(
      loadProxyConfig({
        AUTH_SHIM_UPSTREAM_URL: 'http://127.0.0.1:9/anthropic',
        AUTH_SHIM_CREDENTIAL_SOURCE: 'shim-only',
        AUTH_SHIM_OAUTH_TOKEN_FILE: join(d, 'token'),
      }),
    );
    expect(report.checks.find((c) => c.name === 'upstream')).toMatchObject({
      status: 'fail',
      detail: expect.stringContaining('unreachable (ECONNREFUSED)'),
    });
    expect(report.mapping?.sample).toContain('placeholder');
    expect(report.mapping?.after).toContain(`authorization: Bearer sk-ant-oat01-***(${OAUTH.length} chars)`);
    expect(report.mapping?.after.join()).not.toContain('placeholder');
  });
});
