import { readFile } from 'node:fs/promises';
import { request } from 'undici';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { FakeAnthropic } from '../../src/demo/fake-anthropic.js';
import {
  createTestIssuer,
  FEDERATION_IDS,
  type FakeTokenEndpoint,
  federationEnv,
  grantBody,
  JWT_BEARER_GRANT,
  OAUTH_BETA,
  startFederatedAnthropic,
  type TestIssuer,
  TOKEN_PATH,
} from '../helpers/fake-token-endpoint.js';
import { type Shim, sendClaudeCode, startShim } from '../helpers/shim.js';
import { LITELLM_NEW, LITELLM_OLD, type Litellm, startLitellm } from './_peers.js';

/**
 * The token exchange through a real LiteLLM (issue 17): agent → auth-shim → LiteLLM → fake
 * Anthropic with the fake token endpoint. What LiteLLM 1.106.4 does with `/anthropic/v1/oauth/token`:
 * its `/anthropic` route refuses every call that carries no Anthropic credential of its own (401
 * `{"detail":"No Anthropic credential is configured on this proxy and the request carried no
 * upstream Anthropic credential…"}`), and a token exchange carries none — so the exchange never
 * reaches Anthropic that way. A generic pass-through endpoint in LiteLLM's config (`auth: true`:
 * LiteLLM checks its key and does not forward it) carries the exchange; the shim is pointed there
 * with AUTH_SHIM_TOKEN_URL. A pass-through at the same path as the built-in route loses to it.
 * LiteLLM 1.82.6 forwards the exchange on `/anthropic`, its own key included, and wraps refusals
 * in its error envelope; it refuses to start with `auth: true` on a pass-through route (Enterprise
 * only there), so that route needs a newer release.
 */

/** The pass-through route for the exchange, which the operator adds to LiteLLM's config. */
const TOKEN_ROUTE = '/anthropic-federation/v1/oauth/token';

interface Chain {
  readonly peer: string;
  issuer: TestIssuer;
  fake: FakeAnthropic;
  endpoint: FakeTokenEndpoint;
  litellm: Litellm;
  /** Requests that reached the token endpoint. */
  tokenRequests(): FakeAnthropic['requests'];
  startShim(env?: Record<string, string>): Promise<Shim>;
}

/**
 * Fake Anthropic with its token endpoint (10 s tokens) behind a real LiteLLM `version`, for one describe
 * block; `passThrough` adds the exchange's pass-through route to LiteLLM's config.
 */
function chain(version: string, passThrough: boolean): Chain {
  let shim: Shim | undefined;
  const c = {
    peer: `LiteLLM ${version}`,
    tokenRequests: () => c.fake.requests.filter((r) => r.url === TOKEN_PATH),
    async startShim(env: Record<string, string> = {}) {
      shim = await startShim({
        upstream: c.fake,
        upstreamUrl: c.litellm.anthropicUrl,
        logLevel: 'info',
        files: { token: await c.issuer.sign(), litellm: c.litellm.masterKey },
        env: { ...federationEnv('{dir}/token'), AUTH_SHIM_LITELLM_KEY_FILE: '{dir}/litellm', ...env },
      });
      return shim;
    },
  } as Chain;
  beforeAll(async () => {
    c.issuer = await createTestIssuer();
    ({ fake: c.fake, endpoint: c.endpoint } = await startFederatedAnthropic({
      keys: { jwks: c.issuer.jwks },
      issuer: c.issuer.issuer,
      // An exchange through LiteLLM took over 2 s on a loaded machine: a 4 s token (refreshed at 2 s)
      // then lapsed before its successor arrived. 10 s leaves 5 s for the refresh.
      ttlSeconds: 10,
    }));
    const route = { path: TOKEN_ROUTE, target: `${c.fake.url}${TOKEN_PATH}`, auth: true, methods: ['POST'] };
    c.litellm = await startLitellm(
      version,
      c.fake.url,
      passThrough ? { generalSettings: { pass_through_endpoints: [route] } } : {},
    );
  }, 180_000);
  afterEach(async () => {
    await shim?.close();
    shim = undefined;
  });
  afterAll(async () => {
    await c.litellm?.stop();
    await c.fake?.close();
  });
  return c;
}

async function readyz(s: Shim): Promise<{ status: number; body: string }> {
  const r = await request(`${s.proxy.adminUrl}/readyz`, { dispatcher: s.client });
  return { status: r.statusCode, body: await r.body.text() };
}

/** Requests through the shim until `exchanges` more were accepted (bounded by count); their statuses. */
async function acrossRefreshes(c: Chain, s: Shim, exchanges: number): Promise<number[]> {
  const target = c.endpoint.accepted().length + exchanges;
  const statuses: number[] = [];
  while (c.endpoint.accepted().length < target && statuses.length < 5_000)
    statuses.push((await sendClaudeCode(s)).status);
  expect(c.endpoint.accepted().length).toBeGreaterThanOrEqual(target);
  return statuses;
}

describe(`the token exchange through real LiteLLM ${LITELLM_NEW}`, () => {
  const c = chain(LITELLM_NEW, true);

  it(`its /anthropic route refuses the credential-less exchange itself; nothing reaches Anthropic`, async () => {
    const res = await request(`${c.litellm.anthropicUrl}${TOKEN_PATH}`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-litellm-api-key': c.litellm.masterKey },
      body: JSON.stringify(grantBody(await c.issuer.sign())),
    });
    const body = (await res.body.json()) as { detail?: string };
    expect(res.statusCode, `${c.peer}: status`).toBe(401);
    expect(body.detail, `${c.peer}: refusal`).toMatch(/^No Anthropic credential is configured on this proxy/);
    expect(c.tokenRequests(), `${c.peer} forwarded the exchange`).toEqual([]);
  });

  it('with the default token URL (upstream + /v1/oauth/token) the shim stays unready and says what LiteLLM answered', async () => {
    const s = await c.startShim();
    const jwt = await readFile(`${s.dir}/token`, 'utf8');
    const ready = await readyz(s);
    expect(ready.status).toBe(503);
    expect(ready.body).toContain(`${c.litellm.origin}/anthropic/v1/oauth/token`);
    expect(ready.body).toContain('401');
    const res = await sendClaudeCode(s);
    expect(res.status).toBe(503);
    expect(res.headers['x-should-retry']).toBe('true');
    expect(c.tokenRequests()).toEqual([]);
    for (const text of [...s.logs, ready.body, res.body, await s.proxy.registry.metrics()])
      expect(text.includes(jwt), 'the JWT reached a log line, metric or body').toBe(false);
  });

  it('AUTH_SHIM_TOKEN_URL at a LiteLLM pass-through route: the exchange and every request go through LiteLLM', async () => {
    const s = await c.startShim({ AUTH_SHIM_TOKEN_URL: `${c.litellm.origin}${TOKEN_ROUTE}` });
    expect(c.endpoint.accepted()).toHaveLength(1);
    const exchange = c.tokenRequests()[0];
    // LiteLLM checked its key and kept it: the token endpoint (Anthropic) never sees it.
    expect(exchange?.headers['x-litellm-api-key'], `${c.peer} forwarded its key to the token endpoint`).toBeUndefined();
    expect(JSON.stringify(exchange?.headers)).not.toContain(c.litellm.masterKey);
    expect(JSON.parse(exchange?.body.toString('utf8') ?? '{}')).toMatchObject({
      grant_type: JWT_BEARER_GRANT,
      federation_rule_id: FEDERATION_IDS.federationRuleId,
    });

    // 10 s tokens: the requests cross refreshes, each exchange through LiteLLM again.
    const statuses = await acrossRefreshes(c, s, 2);
    expect(statuses.filter((code) => code !== 200)).toEqual([]);
    const last = c.fake.requests.filter((r) => r.url.startsWith('/v1/messages')).at(-1);
    expect(c.endpoint.issued.map((t) => `Bearer ${t.token}`)).toContain(last?.headers['authorization']?.[0]);
    expect(last?.headers['anthropic-beta']?.join(',').split(',')).toContain(OAUTH_BETA);
    expect(c.endpoint.checks.filter((check) => check.refused !== undefined)).toEqual([]);
    expect((await readyz(s)).status).toBe(200);
  });
});

describe(`the token exchange through real LiteLLM ${LITELLM_OLD}`, () => {
  // No pass-through route: `auth: true` on one is an Enterprise feature in this release (it refuses to start).
  const c = chain(LITELLM_OLD, false);

  it('the default token URL works on /anthropic, but LiteLLM hands its own key to the token endpoint', async () => {
    const s = await c.startShim();
    expect(c.endpoint.accepted()).toHaveLength(1);
    // The same leak as on every call through this release (docs/PEERS.md): the virtual key reaches Anthropic.
    expect(c.tokenRequests()[0]?.headers['x-litellm-api-key']).toEqual([c.litellm.masterKey]);
    expect((await acrossRefreshes(c, s, 1)).filter((code) => code !== 200)).toEqual([]);
  });

  it("a refusal arrives in LiteLLM's error envelope and the shim still names the endpoint's error", async () => {
    c.endpoint.refuse = { status: 400, error: 'invalid_grant', description: 'no federation rule matches' };
    try {
      const s = await c.startShim();
      const ready = await readyz(s);
      expect(ready.status).toBe(503);
      expect(ready.body).toContain('invalid_grant');
      expect(ready.body).toContain('no federation rule matches');
      const res = await sendClaudeCode(s);
      expect(res.status).toBe(503);
      expect(res.body).toContain('no federation rule matches');
    } finally {
      c.endpoint.refuse = undefined;
    }
  });
});
