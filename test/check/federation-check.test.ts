import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { runChecks } from '../../src/check/run-checks.js';
import { render } from '../../src/cli/check.js';
import { loadProxyConfig } from '../../src/config/proxy-config.js';
import type { FakeAnthropic } from '../../src/demo/fake-anthropic.js';
import {
  createTestIssuer,
  type FakeTokenEndpoint,
  federationEnv,
  startFederatedAnthropic,
} from '../helpers/fake-token-endpoint.js';
import { LITELLM_KEY } from '../helpers/shim.js';

/*
 * `auth-shim check` with Workload Identity Federation (issue 17, item 3): the identity token's issuer,
 * subject, audience and expiry, decoded and never printed, and the result of one real exchange.
 */

const cleanup: Array<() => Promise<unknown>> = [];
afterEach(async () => {
  for (const c of cleanup.splice(0)) await c();
});

async function setup(claims: { aud?: string; expiresInSeconds?: number } = {}): Promise<{
  env: Record<string, string>;
  jwt: string;
  fake: FakeAnthropic;
  endpoint: FakeTokenEndpoint;
}> {
  const issuer = await createTestIssuer();
  const { fake, endpoint } = await startFederatedAnthropic({ keys: { jwks: issuer.jwks }, issuer: issuer.issuer });
  cleanup.push(() => fake.close());
  const dir = await mkdtemp(join(tmpdir(), 'auth-shim-fed-check-'));
  cleanup.push(() => rm(dir, { recursive: true, force: true }));
  const jwt = await issuer.sign(claims);
  await writeFile(join(dir, 'token'), jwt);
  await writeFile(join(dir, 'key'), LITELLM_KEY);
  return {
    jwt,
    fake,
    endpoint,
    env: {
      AUTH_SHIM_UPSTREAM_URL: fake.url,
      ...federationEnv(join(dir, 'token')),
      AUTH_SHIM_LITELLM_KEY_FILE: join(dir, 'key'),
    },
  };
}

describe('auth-shim check with Workload Identity Federation', () => {
  it("shows the identity token's claims and a successful exchange; the mapping carries the exchanged token, masked", async () => {
    const { env, jwt, endpoint } = await setup();
    const report = await runChecks(loadProxyConfig(env));
    const byName = new Map(report.checks.map((c) => [c.name, c]));
    expect(byName.get('identity token')).toMatchObject({ status: 'ok' });
    const identity = byName.get('identity token')?.detail ?? '';
    expect(identity).toContain('issuer https://issuer.auth-shim.test');
    expect(identity).toContain('subject system:serviceaccount:agents:agent');
    expect(identity).toContain('audience https://api.anthropic.com');
    expect(identity).toMatch(/expires \d{4}-\d\d-\d\dT.* \(in 60 min\)/);
    expect(byName.get('token exchange')).toMatchObject({ status: 'ok' });
    expect(byName.get('token exchange')?.detail).toMatch(/an OAuth token was issued, valid 3600 s \(until /);
    expect(byName.has('oauth')).toBe(false);
    expect(endpoint.accepted()).toHaveLength(1);
    // Through LiteLLM (the upstream), with the LiteLLM key, like every call.
    expect(endpoint.exchanges[0]?.headers['x-litellm-api-key']).toEqual([LITELLM_KEY]);
    expect(report.mapping?.after).toContainEqual(
      expect.stringMatching(/^authorization: Bearer sk-ant-oat01-\*\*\*\(\d+ chars\)$/),
    );

    const text = `${JSON.stringify(report)}\n${render(report)}`;
    expect(text).not.toContain(jwt);
    expect(text).not.toContain(jwt.split('.')[1] as string);
    expect(text).not.toContain(endpoint.issued[0]?.token as string);
    expect(text).not.toContain(LITELLM_KEY);
  });

  it("a refused exchange fails with the endpoint's error; a wrong audience warns; an expired JWT fails", async () => {
    const { env, endpoint } = await setup({ aud: 'https://kubernetes.default.svc' });
    const report = await runChecks(loadProxyConfig(env));
    const byName = new Map(report.checks.map((c) => [c.name, c]));
    expect(byName.get('identity token')?.status).toBe('warn');
    expect(byName.get('identity token')?.detail).toContain('the audience is not https://api.anthropic.com');
    expect(byName.get('token exchange')?.status).toBe('fail');
    expect(byName.get('token exchange')?.detail).toMatch(/refused: .*refused the exchange \(400 invalid_grant: /);
    expect(report.ok).toBe(false);
    expect(endpoint.accepted()).toHaveLength(0);

    const expired = await setup({ expiresInSeconds: -60 });
    const r2 = await runChecks(loadProxyConfig(expired.env));
    expect(r2.checks.find((c) => c.name === 'identity token')).toMatchObject({ status: 'fail' });
    expect(r2.checks.find((c) => c.name === 'identity token')?.detail).toContain('EXPIRED at');
  });
});
