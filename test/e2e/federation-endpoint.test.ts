import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { request } from 'undici';
import type { FakeAnthropic } from '../../src/demo/fake-anthropic.js';
import {
  createTestIssuer,
  FEDERATION_IDS,
  type FakeTokenEndpoint,
  grantBody,
  OAUTH_BETA,
  startFakeTokenEndpoint,
  startFederatedAnthropic,
  type TestIssuer,
  TOKEN_PATH,
  type TokenServer,
  WORKSPACE_ID,
} from '../helpers/fake-token-endpoint.js';

/** The fake token endpoint itself: what it accepts and refuses is what the federation tests rely on. */

const SUB = 'system:serviceaccount:agents:agent';

async function post(url: string, body: unknown): Promise<{ status: number; body: Record<string, unknown> }> {
  const r = await request(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });
  return { status: r.statusCode, body: (await r.body.json()) as Record<string, unknown> };
}

describe('fake token endpoint (standalone, local issuer)', () => {
  let issuer: TestIssuer;
  let server: TokenServer;
  beforeAll(async () => {
    issuer = await createTestIssuer();
    server = await startFakeTokenEndpoint({ keys: { jwks: issuer.jwks }, issuer: issuer.issuer, subject: SUB });
  });
  afterAll(() => server.close());

  it('answers a valid jwt-bearer grant as RFC 6749 §5.1 and records the exchange without the JWT', async () => {
    const jwt = await issuer.sign({ sub: SUB });
    const r = await post(server.url, grantBody(jwt));
    expect(r.status).toBe(200);
    expect(r.body).toEqual({
      access_token: expect.stringMatching(/^sk-ant-oat01-[A-Za-z0-9_-]+$/),
      token_type: 'Bearer',
      expires_in: 3600,
      scope: 'user:inference',
    });
    const last = server.endpoint.exchanges.at(-1);
    expect(last).toMatchObject({ sub: SUB, accepted: true, status: 200 });
    expect(JSON.stringify(server.endpoint.exchanges)).not.toContain(jwt);
    expect(server.endpoint.issued.at(-1)?.token).toBe(r.body['access_token']);
  });

  it.each([
    ['another audience', { aud: 'https://kubernetes.default.svc' }, /"aud"/],
    ['another issuer', { iss: 'https://evil.example' }, /"iss"/],
    ['another subject', { sub: 'system:serviceaccount:agents:other' }, /"sub"/],
    ['an expired JWT', { expiresInSeconds: -120 }, /"exp"/],
  ])('refuses %s with 400 invalid_grant naming the claim', async (_what, claims, claim) => {
    const r = await post(server.url, grantBody(await issuer.sign({ sub: SUB, ...claims })));
    expect(r.status).toBe(400);
    expect(r.body['error']).toBe('invalid_grant');
    expect(r.body['error_description']).toMatch(claim);
    expect(server.endpoint.exchanges.at(-1)?.accepted).toBe(false);
  });

  it('refuses a JWT signed by another key', async () => {
    const other = await createTestIssuer(issuer.issuer);
    const r = await post(server.url, grantBody(await other.sign({ sub: SUB })));
    expect(r.status).toBe(400);
    expect(r.body['error']).toBe('invalid_grant');
  });

  it('refuses a wrong grant type, a missing field and a wrong ID', async () => {
    const jwt = await issuer.sign({ sub: SUB });
    expect((await post(server.url, grantBody(jwt, { grant_type: 'client_credentials' }))).body['error']).toBe(
      'unsupported_grant_type',
    );
    expect((await post(server.url, grantBody(jwt, { organization_id: undefined }))).body).toEqual({
      error: 'invalid_request',
      error_description: 'organization_id is required',
    });
    const wrong = await post(server.url, grantBody(jwt, { federation_rule_id: 'fdrl_other' }));
    expect(wrong.status).toBe(401);
    expect(wrong.body['error']).toBe('invalid_client');
    const ws = await post(server.url, grantBody(jwt, { workspace_id: 'default' }));
    expect(ws.status).toBe(401);
  });

  it('refuses a reused JWT when single use is on, and everything when told to', async () => {
    server.endpoint.singleUse = true;
    const jwt = await issuer.sign({ sub: SUB });
    expect((await post(server.url, grantBody(jwt))).status).toBe(200);
    const again = await post(server.url, grantBody(jwt));
    expect(again.status).toBe(400);
    expect(again.body['error_description']).toMatch(/already used/);
    expect((await post(server.url, grantBody(await issuer.sign({ sub: SUB })))).status).toBe(200);
    server.endpoint.refuse = { status: 401, error: 'invalid_client', description: 'federation rule disabled' };
    expect(await post(server.url, grantBody(await issuer.sign({ sub: SUB })))).toEqual({
      status: 401,
      body: { error: 'invalid_client', error_description: 'federation rule disabled' },
    });
    server.endpoint.refuse = undefined;
    server.endpoint.singleUse = false;
  });
});

describe('fake token endpoint inside the fake Anthropic', () => {
  let issuer: TestIssuer;
  let fake: FakeAnthropic;
  let endpoint: FakeTokenEndpoint;
  beforeAll(async () => {
    issuer = await createTestIssuer();
    ({ fake, endpoint } = await startFederatedAnthropic({
      keys: { jwks: issuer.jwks },
      issuer: issuer.issuer,
      ids: { ...FEDERATION_IDS, workspaceId: WORKSPACE_ID },
      ttlSeconds: 60,
    }));
  });
  afterAll(() => fake.close());

  async function messages(headers: Record<string, string>): Promise<{ status: number; body: string }> {
    const r = await request(`${fake.url}/v1/messages`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', ...headers },
      body: JSON.stringify({ model: 'claude-sonnet-4-5', max_tokens: 8, messages: [] }),
    });
    return { status: r.statusCode, body: await r.body.text() };
  }

  it('accepts only issued, unexpired, unrevoked bearer tokens with the oauth beta', async () => {
    expect((await post(`${fake.url}${TOKEN_PATH}`, grantBody(await issuer.sign()))).status).toBe(401);
    const r = await post(`${fake.url}${TOKEN_PATH}`, grantBody(await issuer.sign(), { workspace_id: WORKSPACE_ID }));
    expect(r.status).toBe(200);
    expect(endpoint.exchanges.map((e) => e.workspaceId)).toEqual([undefined, WORKSPACE_ID]);
    const token = r.body['access_token'] as string;
    expect((await messages({ authorization: `Bearer ${token}`, 'anthropic-beta': OAUTH_BETA })).status).toBe(200);

    const noBeta = await messages({ authorization: `Bearer ${token}` });
    expect(noBeta.status).toBe(401);
    expect(JSON.parse(noBeta.body)).toMatchObject({ type: 'error', error: { type: 'authentication_error' } });
    const unknown = await messages({
      authorization: 'Bearer sk-ant-oat01-not-issued-by-the-endpoint',
      'anthropic-beta': OAUTH_BETA,
    });
    expect(unknown.status).toBe(401);
    expect((await messages({ 'x-api-key': token })).status).toBe(401);

    endpoint.revoke(token);
    expect((await messages({ authorization: `Bearer ${token}`, 'anthropic-beta': OAUTH_BETA })).status).toBe(401);
    expect(endpoint.checks.map((c) => c.refused)).toEqual([
      undefined,
      'OAuth authentication is currently not supported.',
      'Invalid bearer token',
      'invalid x-api-key',
      'OAuth token has been revoked.',
    ]);
  });

  it('refuses a token whose lifetime has passed', async () => {
    endpoint.ttlSeconds = 0;
    const r = await post(`${fake.url}${TOKEN_PATH}`, grantBody(await issuer.sign(), { workspace_id: WORKSPACE_ID }));
    expect(r.body['expires_in']).toBe(0);
    const late = await messages({
      authorization: `Bearer ${r.body['access_token'] as string}`,
      'anthropic-beta': OAUTH_BETA,
    });
    expect(late.status).toBe(401);
    expect(late.body).toContain('OAuth token has expired.');
    endpoint.ttlSeconds = 60;
  });
});
