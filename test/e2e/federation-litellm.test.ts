import { readFile } from 'node:fs/promises';
import { request } from 'undici';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { claudeCodeRequest } from '../../src/demo/claude-code-request.js';
import { type FakeAnthropic, startFakeAnthropic } from '../../src/demo/fake-anthropic.js';
import {
  createFakeTokenEndpoint,
  createTestIssuer,
  FEDERATION_IDS,
  type FakeTokenEndpoint,
  JWT_BEARER_GRANT,
  OAUTH_BETA,
  type TestIssuer,
  TOKEN_PATH,
} from '../helpers/fake-token-endpoint.js';
import { eventually, type Shim, startShim } from '../helpers/shim.js';
import { LITELLM_NEW, type Litellm, startLitellm } from './_peers.js';

/**
 * The token exchange through a real LiteLLM (issue 17): agent → auth-shim → LiteLLM → fake
 * Anthropic with the fake token endpoint. What LiteLLM 1.106.4 does with `/anthropic/v1/oauth/token`:
 * its `/anthropic` route refuses every call that carries no Anthropic credential of its own (401
 * `{"detail":"No Anthropic credential is configured on this proxy and the request carried no
 * upstream Anthropic credential…"}`), and a token exchange carries none — so the exchange never
 * reaches Anthropic that way. A generic pass-through endpoint in LiteLLM's config (`auth: true`:
 * LiteLLM checks its key and does not forward it) carries the exchange; the shim is pointed there
 * with AUTH_SHIM_TOKEN_URL. A pass-through at the same path as the built-in route loses to it.
 */

const peer = `LiteLLM ${LITELLM_NEW}`;
/** The pass-through route for the exchange, which the operator adds to LiteLLM's config. */
const TOKEN_ROUTE = '/anthropic-federation/v1/oauth/token';

let issuer: TestIssuer;
let fake: FakeAnthropic;
let endpoint: FakeTokenEndpoint;
let litellm: Litellm;

beforeAll(async () => {
  issuer = await createTestIssuer();
  fake = await startFakeAnthropic();
  endpoint = createFakeTokenEndpoint({ keys: { jwks: issuer.jwks }, issuer: issuer.issuer, ttlSeconds: 4 });
  endpoint.attach(fake);
  litellm = await startLitellm(LITELLM_NEW, fake.url, {
    generalSettings: {
      pass_through_endpoints: [
        { path: TOKEN_ROUTE, target: `${fake.url}${TOKEN_PATH}`, auth: true, methods: ['POST'] },
      ],
    },
  });
}, 180_000);

afterAll(async () => {
  await litellm?.stop();
  await fake?.close();
});

let shim: Shim | undefined;
afterEach(async () => {
  await shim?.close();
  shim = undefined;
});

function tokenRequests() {
  return fake.requests.filter((r) => r.url === TOKEN_PATH);
}

async function startFederatedShim(env: Record<string, string> = {}): Promise<Shim> {
  shim = await startShim({
    upstream: fake,
    upstreamUrl: litellm.anthropicUrl,
    logLevel: 'info',
    files: { token: await issuer.sign(), litellm: litellm.masterKey },
    env: {
      AUTH_SHIM_IDENTITY_TOKEN_FILE: '{dir}/token',
      AUTH_SHIM_LITELLM_KEY_FILE: '{dir}/litellm',
      AUTH_SHIM_FEDERATION_RULE_ID: FEDERATION_IDS.federationRuleId,
      AUTH_SHIM_ORGANIZATION_ID: FEDERATION_IDS.organizationId,
      AUTH_SHIM_SERVICE_ACCOUNT_ID: FEDERATION_IDS.serviceAccountId,
      AUTH_SHIM_CREDENTIAL_SOURCE: 'shim-only',
      ...env,
    },
  });
  return shim;
}

async function send(s: Shim): Promise<{ status: number; headers: Record<string, unknown>; body: string }> {
  const { headers, body } = claudeCodeRequest('auth-shim-placeholder');
  const res = await request(`${s.proxy.url}/v1/messages?beta=true`, {
    method: 'POST',
    headers,
    body,
    dispatcher: s.client,
  });
  return { status: res.statusCode, headers: res.headers, body: await res.body.text() };
}

describe(`the token exchange through real ${peer}`, () => {
  it(`${peer}'s /anthropic route refuses the credential-less exchange itself; nothing reaches Anthropic`, async () => {
    const before = tokenRequests().length;
    const res = await request(`${litellm.anthropicUrl}${TOKEN_PATH}`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-litellm-api-key': litellm.masterKey },
      body: JSON.stringify({
        grant_type: JWT_BEARER_GRANT,
        assertion: await issuer.sign(),
        federation_rule_id: FEDERATION_IDS.federationRuleId,
        organization_id: FEDERATION_IDS.organizationId,
        service_account_id: FEDERATION_IDS.serviceAccountId,
      }),
    });
    const body = (await res.body.json()) as { detail?: string };
    expect(res.statusCode, `${peer}: status`).toBe(401);
    expect(body.detail, `${peer}: refusal`).toMatch(/^No Anthropic credential is configured on this proxy/);
    expect(tokenRequests().length, `${peer} forwarded the exchange`).toBe(before);
  });

  it('with the default token URL (upstream + /v1/oauth/token) the shim stays unready and says what LiteLLM answered', async () => {
    const s = await startFederatedShim();
    const jwt = await readFile(`${s.dir}/token`, 'utf8');
    const ready = await request(`${s.proxy.adminUrl}/readyz`, { dispatcher: s.client });
    const readyBody = await ready.body.text();
    expect(ready.statusCode).toBe(503);
    expect(readyBody).toContain(`${new URL(litellm.anthropicUrl).origin}/anthropic/v1/oauth/token`);
    expect(readyBody).toContain('401');
    const res = await send(s);
    expect(res.status).toBe(503);
    expect(res.headers['x-should-retry']).toBe('true');
    for (const text of [...s.logs, readyBody, res.body, await s.proxy.registry.metrics()])
      expect(text.includes(jwt), 'the JWT reached a log line, metric or body').toBe(false);
  });

  it(`AUTH_SHIM_TOKEN_URL at a ${peer} pass-through route: the exchange and every request go through LiteLLM`, async () => {
    const before = tokenRequests().length;
    const s = await startFederatedShim({ AUTH_SHIM_TOKEN_URL: `${litellm.origin}${TOKEN_ROUTE}` });
    expect(endpoint.accepted().length).toBeGreaterThan(0);
    const exchange = tokenRequests()[before];
    // LiteLLM checked its key and kept it: the token endpoint (Anthropic) never sees it.
    expect(exchange?.headers['x-litellm-api-key'], `${peer} forwarded its key to the token endpoint`).toBeUndefined();
    expect(JSON.stringify(exchange?.headers)).not.toContain(litellm.masterKey);
    expect(JSON.parse(exchange?.body.toString('utf8') ?? '{}')).toMatchObject({
      grant_type: JWT_BEARER_GRANT,
      federation_rule_id: FEDERATION_IDS.federationRuleId,
    });

    // 4 s tokens: the loop crosses refreshes, each one through LiteLLM again.
    const statuses: number[] = [];
    while (endpoint.accepted().length < before + 3 && statuses.length < 5_000) statuses.push((await send(s)).status);
    expect(endpoint.accepted().length).toBeGreaterThanOrEqual(before + 3);
    expect(statuses.filter((c) => c !== 200)).toEqual([]);
    const last = fake.requests.filter((r) => r.url.startsWith('/v1/messages')).at(-1);
    expect(last?.headers['authorization']?.[0]).toMatch(/^Bearer sk-ant-oat01-/);
    expect(endpoint.issued.map((t) => `Bearer ${t.token}`)).toContain(last?.headers['authorization']?.[0]);
    expect(last?.headers['anthropic-beta']?.join(',').split(',')).toContain(OAUTH_BETA);
    expect(endpoint.checks.filter((c) => c.refused !== undefined)).toEqual([]);
    await eventually(
      async () => (await request(`${s.proxy.adminUrl}/readyz`, { dispatcher: s.client })).statusCode === 200,
    );
  });
});
