import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { request } from 'undici';
import { afterEach, describe, expect, it } from 'vitest';
import {
  federationEnv,
  startFederatedAnthropic,
  createTestIssuer,
  FEDERATION_IDS,
  type FakeTokenEndpoint,
  type TestIssuer,
} from '../helpers/fake-token-endpoint.js';
import { startFakeKubeApi } from '../helpers/fake-kube-api.js';
import { eventually, LITELLM_KEY, logLines, type Shim, sendClaudeCode, startShim } from '../helpers/shim.js';

/*
 * Workload Identity Federation on the proxy (issue 17, items 1 and 3): a real shim exchanges a real signed
 * JWT at a fake token endpoint that verifies it with jose, then forwards requests with the federated token,
 * which the fake Anthropic accepts only while the endpoint's own record says it is unexpired.
 */

let shim: Shim | undefined;
afterEach(async () => {
  await shim?.close();
  shim = undefined;
});

interface Started {
  readonly shim: Shim;
  readonly endpoint: FakeTokenEndpoint;
  readonly issuer: TestIssuer;
  readonly jwt: string;
}

async function startFederated(
  opts: { ttlSeconds?: number; refuse?: boolean; logLevel?: string } = {},
): Promise<Started> {
  const issuer = await createTestIssuer();
  const { fake, endpoint } = await startFederatedAnthropic({
    keys: { jwks: issuer.jwks },
    issuer: issuer.issuer,
    ttlSeconds: opts.ttlSeconds ?? 3600,
    ...(opts.refuse === true
      ? { refuse: { status: 400, error: 'invalid_grant', description: 'no federation rule matches the subject' } }
      : {}),
  });
  const jwt = await issuer.sign();
  const s = await startShim({
    upstream: fake,
    ...(opts.logLevel === undefined ? {} : { logLevel: opts.logLevel }),
    files: { token: jwt, litellm: `${LITELLM_KEY}\n` },
    env: { ...federationEnv('{dir}/token'), AUTH_SHIM_LITELLM_KEY_FILE: '{dir}/litellm' },
  });
  shim = s;
  const closeFake = s.close;
  (s as { close: () => Promise<void> }).close = async () => {
    await closeFake();
    await fake.close();
  };
  return { shim: s, endpoint, issuer, jwt };
}

const send = (s: Shim) => sendClaudeCode(s);

async function readyz(s: Shim): Promise<{ status: number; body: string }> {
  const res = await request(`${s.proxy.adminUrl}/readyz`, { dispatcher: s.client });
  return { status: res.statusCode, body: await res.body.text() };
}

async function metricsText(s: Shim): Promise<string> {
  return s.proxy.registry.metrics();
}

describe('Workload Identity Federation in the proxy', () => {
  it('exchanges the JWT before the first request and forwards with the federated token', async () => {
    const { shim: s, endpoint } = await startFederated();
    expect(endpoint.accepted()).toHaveLength(1);
    expect((await readyz(s)).status).toBe(200);

    const res = await send(s);
    expect(res.status).toBe(200);
    const token = endpoint.issued[0]?.token as string;
    const got = s.fake.requests.at(-1);
    expect(got?.url).toBe('/v1/messages?beta=true');
    expect(got?.headers['authorization']).toEqual([`Bearer ${token}`]);
    expect(got?.headers['x-api-key']).toBeUndefined();
    expect(got?.headers['anthropic-beta']?.[0]).toContain('oauth-2025-04-20');
    expect(endpoint.checks.at(-1)?.refused).toBeUndefined();

    // The exchange went where every call goes, with the LiteLLM key like every call.
    const exchange = s.fake.requests.find((r) => r.url === '/v1/oauth/token');
    expect(exchange?.method).toBe('POST');
    expect(exchange?.headers['x-litellm-api-key']).toEqual([LITELLM_KEY]);
    expect(exchange?.headers['content-type']).toEqual(['application/json']);
    const sent = JSON.parse(exchange?.body.toString('utf8') ?? '{}') as Record<string, unknown>;
    expect(Object.keys(sent).sort()).toEqual([
      'assertion',
      'federation_rule_id',
      'grant_type',
      'organization_id',
      'service_account_id',
    ]);

    const m = await metricsText(s);
    expect(m).toMatch(/auth_shim_federation_exchanges_total\{result="success"\} 1/);
    const expiry = Number(/^auth_shim_federation_token_expiry_timestamp_seconds (\S+)$/m.exec(m)?.[1]);
    expect(Math.abs(expiry * 1000 - (endpoint.issued[0]?.expiresAt ?? 0))).toBeLessThan(60_000);
    // The subscription token's expiry gauge (and its alerts) never see a federated token.
    expect(m).not.toMatch(/auth_shim_oauth_token_expiry_timestamp_seconds\{/);
  });

  it('sends workspace_id when configured', async () => {
    const issuer = await createTestIssuer();
    const { fake, endpoint } = await startFederatedAnthropic({
      keys: { jwks: issuer.jwks },
      issuer: issuer.issuer,
      ids: { ...FEDERATION_IDS, workspaceId: 'wrkspc_01TESTWRKSPC0123456789ab' },
    });
    shim = await startShim({
      upstream: fake,
      files: { token: await issuer.sign() },
      env: {
        ...federationEnv('{dir}/token'),
        AUTH_SHIM_WORKSPACE_ID: 'wrkspc_01TESTWRKSPC0123456789ab',
      },
    });
    try {
      expect(endpoint.accepted().map((e) => e.workspaceId)).toEqual(['wrkspc_01TESTWRKSPC0123456789ab']);
      expect((await send(shim)).status).toBe(200);
    } finally {
      await shim.close();
      shim = undefined;
      await fake.close();
    }
  });

  it('a refused exchange: listeners up, /readyz 503 and requests 503 naming the endpoint error, never the JWT', async () => {
    const { shim: s, jwt } = await startFederated({ refuse: true });
    const ready = await readyz(s);
    expect(ready.status).toBe(503);
    expect(ready.body).toContain('invalid_grant');
    expect(ready.body).toContain('no federation rule matches the subject');

    const res = await send(s);
    expect(res.status).toBe(503);
    expect(res.headers['x-should-retry']).toBe('true');
    expect(res.headers['x-auth-shim-error']).toBe('federation_unavailable');
    const body = JSON.parse(res.body) as { type: string; error: { type: string; message: string } };
    expect(body.type).toBe('error');
    expect(body.error.type).toBe('api_error');
    expect(body.error.message).toContain('invalid_grant: no federation rule matches the subject');
    expect(s.fake.requests.filter((r) => r.url.startsWith('/v1/messages'))).toHaveLength(0);

    const m = await metricsText(s);
    expect(m).toMatch(/auth_shim_federation_exchanges_total\{result="refused"\} [1-9]/);
    expect(m).toMatch(/^auth_shim_federation_token_expiry_timestamp_seconds 0$/m);
    for (const text of [...s.logs, res.body, ready.body, m]) {
      expect(text).not.toContain(jwt);
      expect(text).not.toContain(jwt.split('.')[1] as string);
    }
  });

  it('tokens that expire in seconds are refreshed ahead of expiry: every request carries an unexpired one', async () => {
    const { shim: s, endpoint, issuer } = await startFederated({ ttlSeconds: 3 });
    // Every exchange re-reads the file: a new JWT on disk is the one the next exchange presents.
    const rotated = await issuer.sign({ sub: 'system:serviceaccount:agents:rotated' });
    await writeFile(join(s.dir, 'token'), rotated);
    let failed = 0;
    // Bounded by count: these requests span several refreshes whatever the machine's speed.
    while (endpoint.accepted().length < 3) {
      const res = await send(s);
      if (res.status !== 200) failed++;
    }
    expect(failed).toBe(0);
    const bearerChecks = endpoint.checks.filter((c) => c.path === '/v1/messages');
    expect(bearerChecks.length).toBeGreaterThan(0);
    expect(bearerChecks.every((c) => c.refused === undefined && (c.remainingMs ?? 0) > 0)).toBe(true);
    expect(
      endpoint
        .accepted()
        .slice(1)
        .map((e) => e.sub),
    ).toContain('system:serviceaccount:agents:rotated');
    expect(endpoint.accepted()[0]?.sub).toBe('system:serviceaccount:agents:agent');
  });

  it('an upstream 401 on the federated token makes one early exchange for a whole burst, and is not resent', async () => {
    const { shim: s, endpoint } = await startFederated();
    expect(endpoint.accepted()).toHaveLength(1);
    endpoint.revoke(endpoint.issued[0]?.token as string);
    const burst = await Promise.all(Array.from({ length: 8 }, () => send(s)));
    expect(burst.map((r) => r.status)).toEqual(Array(8).fill(401));
    await eventually(() => endpoint.accepted().length === 2);
    await eventually(() => s.proxy.credentials.snapshot().oauth === endpoint.issued[1]?.token);
    // Each refused request reached the upstream once: nothing was resent.
    expect(s.fake.requests.filter((r) => r.url.startsWith('/v1/messages'))).toHaveLength(8);
    expect((await send(s)).status).toBe(200);
    // A second burst inside the debounce interval makes no further exchange.
    endpoint.revoke(endpoint.issued[1]?.token as string);
    await Promise.all(Array.from({ length: 4 }, () => send(s)));
    expect(endpoint.accepted()).toHaveLength(2);
    expect(logLines(s).filter((l) => l['event'] === 'federation_unauthorized')).toHaveLength(1);
  });

  it('waits for the LiteLLM key before exchanging through LiteLLM', async () => {
    const issuer = await createTestIssuer();
    const { fake, endpoint: ep } = await startFederatedAnthropic({
      keys: { jwks: issuer.jwks },
      issuer: issuer.issuer,
    });
    shim = await startShim({
      upstream: fake,
      files: { token: await issuer.sign() },
      env: {
        ...federationEnv('{dir}/token'),
        AUTH_SHIM_LITELLM_KEY_FILE: '{dir}/keys/litellm',
      },
    });
    try {
      expect(ep.exchanges).toHaveLength(0);
      const ready = await readyz(shim);
      expect(ready.status).toBe(503);
      expect(ready.body).toContain('waiting for the LiteLLM key');
      await mkdir(join(shim.dir, 'keys'));
      await writeFile(join(shim.dir, 'keys', 'litellm'), LITELLM_KEY);
      await shim.proxy.credentials.reloadAll();
      await eventually(() => ep.accepted().length === 1);
      expect(ep.exchanges[0]?.headers['x-litellm-api-key']).toEqual([LITELLM_KEY]);
      await eventually(async () => (await readyz(shim as Shim)).status === 200);
    } finally {
      await shim.close();
      shim = undefined;
      await fake.close();
    }
  });
  it('concurrent callers share one exchange', async () => {
    const { shim: s, endpoint } = await startFederated();
    await Promise.all(Array.from({ length: 5 }, () => s.proxy.credentials.reloadAll()));
    expect(endpoint.exchanges).toHaveLength(2);
  });

  it('failures are retried while the token is valid; once it expires requests get 503 naming the refusal; recovery follows', async () => {
    const { shim: s, endpoint, jwt } = await startFederated({ ttlSeconds: 2 });
    endpoint.refuse = { status: 400, error: 'invalid_grant', description: 'the federation rule was deleted' };
    // The refresh at half-life fails and is retried; the token in hand still serves requests meanwhile.
    await eventually(() => endpoint.exchanges.filter((e) => !e.accepted).length >= 1, 10_000);
    const first = endpoint.issued[0] as { expiresAt: number };
    await eventually(() => Date.now() > first.expiresAt + 50, 10_000);
    const res = await send(s);
    expect(res.status).toBe(503);
    expect(res.headers['x-auth-shim-error']).toBe('federation_unavailable');
    const message = (JSON.parse(res.body) as { error: { message: string } }).error.message;
    expect(message).toMatch(
      /the federated token expired at .*; last exchange: .*invalid_grant: the federation rule was deleted/,
    );
    const ready = await readyz(s);
    expect(ready.status).toBe(503);
    expect(ready.body).toContain('the federated token expired at');
    // No request was forwarded with the expired token.
    expect(endpoint.checks.filter((c) => c.refused !== undefined)).toHaveLength(0);

    endpoint.refuse = undefined;
    await eventually(() => endpoint.accepted().length >= 2, 20_000);
    await eventually(async () => (await send(s)).status === 200, 10_000);
    expect((await readyz(s)).status).toBe(200);
    const warnings = logLines(s).filter((l) => l['event'] === 'federation_exchange' && l['result'] === 'refused');
    expect(warnings.length).toBeGreaterThan(0);
    for (const line of s.logs) expect(line).not.toContain(jwt);
    for (const t of endpoint.issued) for (const line of s.logs) expect(line).not.toContain(t.token);
  });
  it('neither the JWT nor a federated token reaches a log line (trace), a response or /metrics — not even echoed by the upstream', async () => {
    const { shim: s, endpoint, jwt } = await startFederated({ logLevel: 'trace' });
    const token = endpoint.issued[0]?.token as string;
    const seen: string[] = [];
    const record = (r: { headers: Record<string, unknown>; body: string }) =>
      seen.push(JSON.stringify(r.headers), r.body);
    record(await send(s));
    // An upstream that quotes the credential it got back in its error body.
    s.fake.respond = (req, res) => {
      const auth = req.headers['authorization']?.[0] ?? '';
      res.writeHead(400, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ type: 'error', error: { type: 'invalid_request_error', message: `bad: ${auth}` } }));
    };
    const echoed = await send(s);
    expect(echoed.status).toBe(400);
    expect(echoed.body).toContain('bad: Bearer sk-ant-oat01-***');
    record(echoed);
    endpoint.refuse = { status: 400, error: 'invalid_grant', description: `replayed ${jwt}` };
    await s.proxy.credentials.reloadAll();
    seen.push((await readyz(s)).body, await metricsText(s), ...s.logs);
    const tokens = [jwt, jwt.split('.')[1] as string, jwt.split('.')[2] as string, token, LITELLM_KEY];
    for (const text of seen) for (const secret of tokens) expect(text).not.toContain(secret);
    expect(s.logs.some((l) => l.includes('replayed <identity token>'))).toBe(true);
  });
  it('the LiteLLM key from a Secret through the Kubernetes API: the exchange waits for it, then goes with it', async () => {
    const api = await startFakeKubeApi('agents', 'litellm');
    const issuer = await createTestIssuer();
    const { fake, endpoint } = await startFederatedAnthropic({ keys: { jwks: issuer.jwks }, issuer: issuer.issuer });
    const dir = await mkdtemp(join(tmpdir(), 'auth-shim-fed-kube-'));
    await api.writeKubeconfig(join(dir, 'kubeconfig'));
    process.env['KUBECONFIG'] = join(dir, 'kubeconfig');
    try {
      shim = await startShim({
        upstream: fake,
        files: { token: await issuer.sign() },
        env: {
          ...federationEnv('{dir}/token'),
          AUTH_SHIM_SECRET: 'agents/litellm',
          AUTH_SHIM_SECRET_LITELLM_KEY_KEY: 'key',
        },
      });
      expect(endpoint.exchanges).toHaveLength(0);
      expect((await readyz(shim)).body).toContain('waiting for the LiteLLM key');
      api.setSecret({ key: LITELLM_KEY });
      await eventually(() => endpoint.accepted().length === 1, 10_000);
      expect(endpoint.exchanges[0]?.headers['x-litellm-api-key']).toEqual([LITELLM_KEY]);
      await eventually(async () => (await readyz(shim as Shim)).status === 200, 10_000);
      const res = await send(shim);
      expect(res.status).toBe(200);
      expect(shim.fake.requests.at(-1)?.headers['x-litellm-api-key']).toEqual([LITELLM_KEY]);
    } finally {
      await shim?.close();
      shim = undefined;
      await fake.close();
      await api.close();
      delete process.env['KUBECONFIG'];
      await rm(dir, { recursive: true, force: true });
    }
  });
});
