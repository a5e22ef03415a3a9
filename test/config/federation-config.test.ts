import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { credentialSlots } from '../../src/config/credential-slots.js';
import { loadProxyConfig } from '../../src/config/proxy-config.js';
import { proxyConfigProblems } from '../helpers/config-problems.js';

const dir = mkdtempSync(join(tmpdir(), 'auth-shim-fed-config-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const TOKEN = join(dir, 'token');
writeFileSync(TOKEN, 'eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJ4In0.c2ln');

const base = { AUTH_SHIM_UPSTREAM_URL: 'http://litellm.ai.svc:4000/anthropic' };
const FED = {
  AUTH_SHIM_IDENTITY_TOKEN_FILE: TOKEN,
  AUTH_SHIM_FEDERATION_RULE_ID: 'fdrl_01AbCdEf',
  AUTH_SHIM_ORGANIZATION_ID: '5b7c9e2a-3f41-4d8e-9a6b-1c2d3e4f5a6b',
  AUTH_SHIM_SERVICE_ACCOUNT_ID: 'svac_01AbCdEf',
};

const problems = proxyConfigProblems;

describe('Workload Identity Federation options (issue 17)', () => {
  it('the four required options turn it on; the token URL defaults to the upstream URL + /v1/oauth/token', () => {
    const c = loadProxyConfig({ ...base, ...FED });
    expect(c.federation).toBe(true);
    expect(c.tokenUrl?.href).toBe('http://litellm.ai.svc:4000/anthropic/v1/oauth/token');
    expect(c).toMatchObject({
      identityTokenFile: TOKEN,
      federationRuleId: 'fdrl_01AbCdEf',
      organizationId: '5b7c9e2a-3f41-4d8e-9a6b-1c2d3e4f5a6b',
      serviceAccountId: 'svac_01AbCdEf',
      workspaceId: undefined,
    });
    expect(credentialSlots(c).oauth).toBe('Workload Identity Federation (fdrl_01AbCdEf)');
    const off = loadProxyConfig(base);
    expect(off.federation).toBe(false);
    expect(off.tokenUrl).toBeUndefined();
  });

  it('flags work as for every option; an explicit token URL and workspace are kept', () => {
    const c = loadProxyConfig({ ...base, ...FED }, [
      '--workspace-id=default',
      '--token-url',
      'https://api.anthropic.com/v1/oauth/token',
    ]);
    expect(c.workspaceId).toBe('default');
    expect(c.tokenUrl?.href).toBe('https://api.anthropic.com/v1/oauth/token');
    expect(loadProxyConfig({ ...base, ...FED, AUTH_SHIM_WORKSPACE_ID: 'wrkspc_01Ab' }).workspaceId).toBe('wrkspc_01Ab');
  });

  it('every shape problem is listed at once, with no "missing" echo for a value that was given', () => {
    const p = problems({
      ...base,
      AUTH_SHIM_IDENTITY_TOKEN_FILE: TOKEN,
      AUTH_SHIM_FEDERATION_RULE_ID: 'rule-1',
      AUTH_SHIM_ORGANIZATION_ID: 'org_123',
      AUTH_SHIM_SERVICE_ACCOUNT_ID: 'svc_1',
      AUTH_SHIM_WORKSPACE_ID: 'workspace',
      AUTH_SHIM_TOKEN_URL: 'ftp://x/token',
    });
    expect(p).toEqual([
      'AUTH_SHIM_FEDERATION_RULE_ID must be a federation rule ID (fdrl_…), got "rule-1"',
      'AUTH_SHIM_ORGANIZATION_ID must be a UUID, got "org_123"',
      'AUTH_SHIM_SERVICE_ACCOUNT_ID must be a service account ID (svac_…), got "svc_1"',
      'AUTH_SHIM_WORKSPACE_ID must be a workspace ID (wrkspc_…) or default, got "workspace"',
      'AUTH_SHIM_TOKEN_URL must be an http(s) URL, got "ftp://x/token"',
    ]);
  });

  it('all or none of the required set', () => {
    expect(
      problems({ ...base, AUTH_SHIM_FEDERATION_RULE_ID: 'fdrl_1', AUTH_SHIM_SERVICE_ACCOUNT_ID: 'svac_1' }),
    ).toEqual([
      'Workload Identity Federation needs all of AUTH_SHIM_IDENTITY_TOKEN_FILE, AUTH_SHIM_FEDERATION_RULE_ID, AUTH_SHIM_ORGANIZATION_ID, AUTH_SHIM_SERVICE_ACCOUNT_ID: AUTH_SHIM_IDENTITY_TOKEN_FILE, AUTH_SHIM_ORGANIZATION_ID are not set',
    ]);
    expect(problems({ ...base, AUTH_SHIM_WORKSPACE_ID: 'default', AUTH_SHIM_TOKEN_URL: 'http://x/t' })).toEqual([
      'AUTH_SHIM_WORKSPACE_ID is set but Workload Identity Federation is not (AUTH_SHIM_IDENTITY_TOKEN_FILE)',
      'AUTH_SHIM_TOKEN_URL is set but Workload Identity Federation is not (AUTH_SHIM_IDENTITY_TOKEN_FILE)',
    ]);
  });

  it('the identity token file must be readable when the proxy starts', () => {
    expect(problems({ ...base, ...FED, AUTH_SHIM_IDENTITY_TOKEN_FILE: join(dir, 'absent') })).toEqual([
      `AUTH_SHIM_IDENTITY_TOKEN_FILE ${join(dir, 'absent')} cannot be read (ENOENT): mount the projected service-account token there`,
    ]);
    // The most common mistake: the token itself instead of its path; never echoed.
    for (const pasted of ['sk-ant-oat01-abcdefghijkl', 'eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJ4In0.c2ln']) {
      const p = problems({ ...base, ...FED, AUTH_SHIM_IDENTITY_TOKEN_FILE: pasted });
      expect(p).toHaveLength(1);
      expect(p[0]).toMatch(
        /^AUTH_SHIM_IDENTITY_TOKEN_FILE must be the path of a file holding the (secret|token), not the/,
      );
      expect(p[0]).not.toContain(pasted.slice(0, 12));
    }
  });

  it('excludes a mounted OAuth token (both fill the same slot), client-only, and an allowlist without oauth', () => {
    expect(problems({ ...base, ...FED, AUTH_SHIM_OAUTH_TOKEN_FILE: '/t' })).toEqual([
      "AUTH_SHIM_OAUTH_TOKEN_FILE and AUTH_SHIM_IDENTITY_TOKEN_FILE are exclusive: both fill the shim's OAuth credential (a mounted token, or one exchanged by Workload Identity Federation)",
    ]);
    expect(
      problems({ ...base, ...FED, AUTH_SHIM_SECRET: 'agents/claude', AUTH_SHIM_SECRET_OAUTH_TOKEN_KEY: 'token' }),
    ).toEqual([
      "AUTH_SHIM_SECRET_OAUTH_TOKEN_KEY and AUTH_SHIM_IDENTITY_TOKEN_FILE are exclusive: both fill the shim's OAuth credential (a mounted token, or one exchanged by Workload Identity Federation)",
    ]);
    expect(problems({ ...base, ...FED, AUTH_SHIM_CREDENTIAL_SOURCE: 'client-only' })).toEqual([
      'AUTH_SHIM_CREDENTIAL_SOURCE=client-only never uses AUTH_SHIM_IDENTITY_TOKEN_FILE: unset it or choose client-first',
    ]);
    expect(problems({ ...base, ...FED, AUTH_SHIM_ALLOWED_CREDENTIALS: 'api-key' })).toEqual([
      'AUTH_SHIM_IDENTITY_TOKEN_FILE is set but AUTH_SHIM_ALLOWED_CREDENTIALS does not include oauth',
    ]);
    expect(problems({ ...base, ...FED, AUTH_SHIM_OAUTH_TOKEN_EXPIRES_AT: '2027-01-01T00:00:00Z' })).toEqual([
      'AUTH_SHIM_OAUTH_TOKEN_EXPIRES_AT is set but AUTH_SHIM_OAUTH_TOKEN_FILE is not',
    ]);
  });

  it('counts as the shim credential shim-only needs, and combines with a LiteLLM key from a Secret', () => {
    expect(problems({ ...base, ...FED, AUTH_SHIM_CREDENTIAL_SOURCE: 'shim-only' })).toEqual([]);
    const c = loadProxyConfig({
      ...base,
      ...FED,
      AUTH_SHIM_SECRET: 'agents/litellm',
      AUTH_SHIM_SECRET_LITELLM_KEY_KEY: 'key',
    });
    expect(credentialSlots(c)).toEqual({
      oauth: 'Workload Identity Federation (fdrl_01AbCdEf)',
      litellmKey: 'Secret agents/litellm key "key"',
    });
  });
});
