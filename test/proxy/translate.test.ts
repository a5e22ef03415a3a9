import { describe, expect, it } from 'vitest';
import { ERRORS } from '../../src/proxy/errors.js';
import { createTranslator } from '../../src/proxy/translate.js';
import type { CredentialKind, CredentialSourcePolicy, ShimCredentials } from '../../src/vocabulary/credentials.js';
import { API_KEY, LITELLM_KEY, OAUTH } from '../helpers/shim.js';

function translator(
  source: CredentialSourcePolicy = 'client-first',
  allowed: CredentialKind[] = ['oauth', 'api-key'],
  litellmKeyHeader = 'x-litellm-api-key',
) {
  return createTranslator({ source, allowed, litellmKeyHeader });
}

/** Headers as a lower-cased map of name → values, for assertions. */
function asMap(flat: readonly string[]): Record<string, string[]> {
  const m: Record<string, string[]> = {};
  for (let i = 0; i < flat.length; i += 2) (m[(flat[i] as string).toLowerCase()] ??= []).push(flat[i + 1] as string);
  return m;
}

function ok(raw: string[], creds: ShimCredentials = {}, t = translator()) {
  const r = t(raw, creds);
  if (!r.ok) throw new Error(`expected success, got ${r.error.code}: ${r.message}`);
  return { ...r, map: asMap(r.headers) };
}

describe('credential translation — the README table, row by row', () => {
  it('x-api-key: sk-ant-oat… → Authorization: Bearer, no x-api-key, oauth beta added', () => {
    const r = ok(['x-api-key', OAUTH, 'anthropic-version', '2023-06-01']);
    expect(r.map['authorization']).toEqual([`Bearer ${OAUTH}`]);
    expect(r.map['x-api-key']).toBeUndefined();
    expect(r.map['anthropic-beta']).toEqual(['oauth-2025-04-20']);
    expect(r).toMatchObject({ credential: 'oauth', origin: 'client' });
  });

  it('Authorization: Bearer sk-ant-oat… → kept as Bearer, oauth beta added', () => {
    const r = ok(['Authorization', `Bearer ${OAUTH}`]);
    expect(r.map['authorization']).toEqual([`Bearer ${OAUTH}`]);
    expect(r.map['x-api-key']).toBeUndefined();
    expect(r.map['anthropic-beta']).toEqual(['oauth-2025-04-20']);
  });

  it('the Bearer scheme is case-insensitive (RFC 9110 §11.1)', () => {
    expect(ok(['authorization', `bearer ${OAUTH}`]).credential).toBe('oauth');
    expect(ok(['authorization', `BEARER  ${API_KEY} `]).credential).toBe('api-key');
  });

  it('oauth beta is merged into an existing list once, other values and their order kept', () => {
    const r = ok(['anthropic-beta', 'claude-code-20250219,interleaved-thinking-2025-05-14', 'x-api-key', OAUTH]);
    expect(r.map['anthropic-beta']).toEqual(['claude-code-20250219,interleaved-thinking-2025-05-14,oauth-2025-04-20']);
  });

  it('a list that already has the oauth beta is left byte for byte', () => {
    const list = 'claude-code-20250219, oauth-2025-04-20 ,extended-cache-ttl-2025-04-11';
    expect(ok(['anthropic-beta', list, 'authorization', `Bearer ${OAUTH}`]).map['anthropic-beta']).toEqual([list]);
  });

  it('repeated anthropic-beta headers: the beta goes on the last one, once', () => {
    const r = ok(['anthropic-beta', 'a-1', 'x-api-key', OAUTH, 'anthropic-beta', 'b-2']);
    expect(r.map['anthropic-beta']).toEqual(['a-1', 'b-2,oauth-2025-04-20']);
    const already = ok(['anthropic-beta', 'oauth-2025-04-20', 'x-api-key', OAUTH, 'anthropic-beta', 'b-2']);
    expect(already.map['anthropic-beta']).toEqual(['oauth-2025-04-20', 'b-2']);
  });

  it('an empty anthropic-beta becomes just the oauth beta', () => {
    expect(ok(['anthropic-beta', '', 'x-api-key', OAUTH]).map['anthropic-beta']).toEqual(['oauth-2025-04-20']);
  });

  it('x-api-key: sk-ant-api… → x-api-key, no Authorization, no beta change', () => {
    const r = ok(['x-api-key', API_KEY, 'anthropic-beta', 'tools-2024-04-04']);
    expect(r.map['x-api-key']).toEqual([API_KEY]);
    expect(r.map['authorization']).toBeUndefined();
    expect(r.map['anthropic-beta']).toEqual(['tools-2024-04-04']);
    expect(r.credential).toBe('api-key');
  });

  it('Authorization: Bearer sk-ant-api… (SDK 1.x sends every key so) → x-api-key', () => {
    const r = ok(['authorization', `Bearer ${API_KEY}`]);
    expect(r.map['x-api-key']).toEqual([API_KEY]);
    expect(r.map['authorization']).toBeUndefined();
    expect(r.map['anthropic-beta']).toBeUndefined();
  });

  it('both headers with credentials: x-api-key wins (Anthropic decides on it), the other never leaves', () => {
    const r = ok(['x-api-key', API_KEY, 'authorization', `Bearer ${OAUTH}`]);
    expect(r.credential).toBe('api-key');
    expect(r.map['x-api-key']).toEqual([API_KEY]);
    expect(r.map['authorization']).toBeUndefined();
    expect(JSON.stringify(r.headers)).not.toContain(OAUTH);
    const r2 = ok(['x-api-key', OAUTH, 'authorization', `Bearer ${API_KEY}`]);
    expect(r2.credential).toBe('oauth');
    expect(r2.map['authorization']).toEqual([`Bearer ${OAUTH}`]);
    expect(JSON.stringify(r2.headers)).not.toContain(API_KEY);
  });

  it('a placeholder in x-api-key and a token in Authorization: the token is used, the placeholder dropped', () => {
    const r = ok(['x-api-key', 'placeholder', 'authorization', `Bearer ${OAUTH}`]);
    expect(r.credential).toBe('oauth');
    expect(JSON.stringify(r.headers)).not.toContain('placeholder');
  });

  it("a non-Anthropic value (placeholder, LiteLLM key, Basic auth) is never forwarded; the shim's is used", () => {
    for (const raw of [
      ['x-api-key', 'placeholder'],
      ['x-api-key', LITELLM_KEY],
      ['authorization', 'Basic dXNlcjpwYXNz'],
      ['authorization', `Bearer ${LITELLM_KEY}`],
    ]) {
      const r = ok(raw, { oauth: OAUTH });
      expect(r).toMatchObject({ credential: 'oauth', origin: 'shim' });
      expect(r.map['authorization']).toEqual([`Bearer ${OAUTH}`]);
      expect(r.map['x-api-key']).toBeUndefined();
      expect(JSON.stringify(r.headers)).not.toContain(raw[1] as string);
    }
  });

  it('shim credential preference: oauth before api-key, unless oauth is not allowed', () => {
    expect(ok([], { oauth: OAUTH, apiKey: API_KEY }).credential).toBe('oauth');
    expect(ok([], { oauth: OAUTH, apiKey: API_KEY }, translator('client-first', ['api-key'])).credential).toBe(
      'api-key',
    );
  });

  it('shim-only: client credentials are always stripped, the shim credential used', () => {
    const r = ok(
      ['x-api-key', API_KEY, 'authorization', `Bearer ${OAUTH}`],
      { apiKey: `${API_KEY}-SHIM` },
      translator('shim-only'),
    );
    expect(r).toMatchObject({ credential: 'api-key', origin: 'shim' });
    expect(r.map['x-api-key']).toEqual([`${API_KEY}-SHIM`]);
    expect(r.map['authorization']).toBeUndefined();
  });

  it('client-only: never the shim credential', () => {
    const t = translator('client-only');
    const r = t(['x-api-key', 'placeholder'], { oauth: OAUTH });
    expect(r.ok).toBe(false);
    if (r.ok) return;
    expect(r.error).toBe(ERRORS.missingCredential);
    expect(r.message).toContain('client-only');
    expect(r.message).toContain('x-api-key');
    expect(r.message).not.toContain('placeholder');
  });

  it('no credential anywhere → 401 authentication_error naming what is missing', () => {
    const r = translator()([], {});
    expect(r.ok).toBe(false);
    if (r.ok) return;
    expect(r.error).toMatchObject({ status: 401, type: 'authentication_error', retry: false });
    expect(r.message).toContain('no x-api-key or authorization header');
    expect(r.message).toContain('AUTH_SHIM_OAUTH_TOKEN_FILE');
  });

  it('a credential kind that is not allowed → 403 permission_error, nothing forwarded', () => {
    const r = translator('client-first', ['oauth'])(['x-api-key', API_KEY], { oauth: OAUTH });
    expect(r.ok).toBe(false);
    if (r.ok) return;
    expect(r.error).toMatchObject({ status: 403, type: 'permission_error', retry: false });
    expect(r.message).toContain('AUTH_SHIM_ALLOWED_CREDENTIALS=oauth');
    expect(r.message).not.toContain(API_KEY);
  });

  it('two x-api-key (or authorization) headers are ambiguous → 400', () => {
    const r = translator()(['x-api-key', OAUTH, 'X-Api-Key', API_KEY], {});
    expect(r.ok || r.error).toBe(ERRORS.ambiguousCredential);
    // shim-only never reads them, so duplicates there are just stripped
    expect(ok(['x-api-key', 'a', 'x-api-key', 'b'], { oauth: OAUTH }, translator('shim-only')).credential).toBe(
      'oauth',
    );
  });

  it('the LiteLLM key from its file goes in the LiteLLM header; client copies are dropped', () => {
    const r = ok(
      [
        'x-litellm-api-key',
        'client-supplied',
        'X-LiteLLM-API-Key',
        'another',
        'api-key',
        'azure-style',
        'x-api-key',
        OAUTH,
      ],
      { litellmKey: LITELLM_KEY },
    );
    expect(r.map['x-litellm-api-key']).toEqual([LITELLM_KEY]);
    expect(r.map['api-key']).toBeUndefined();
  });

  it('a custom LiteLLM key header: the key goes there and client copies of both names are dropped', () => {
    const t = translator('client-first', ['oauth', 'api-key'], 'x-gateway-key');
    const r = ok(
      ['x-gateway-key', 'forged', 'x-litellm-api-key', 'forged', 'x-api-key', OAUTH],
      { litellmKey: LITELLM_KEY },
      t,
    );
    expect(r.map['x-gateway-key']).toEqual([LITELLM_KEY]);
    expect(r.map['x-litellm-api-key']).toBeUndefined();
  });

  it('no LiteLLM key configured: no LiteLLM header is sent', () => {
    expect(ok(['x-api-key', OAUTH, 'x-litellm-api-key', 'forged']).map['x-litellm-api-key']).toBeUndefined();
  });

  it('strips hop-by-hop, proxy-*, x-pass-*, host, and headers named in Connection', () => {
    const r = ok([
      'Host',
      'evil.example',
      'Connection',
      'keep-alive, X-Custom-Hop',
      'Keep-Alive',
      'timeout=5',
      'Transfer-Encoding',
      'chunked',
      'TE',
      'trailers',
      'Trailer',
      'x-foo',
      'Upgrade',
      'h2c',
      'Expect',
      '100-continue',
      'Proxy-Authorization',
      'Basic abc',
      'Proxy-Connection',
      'keep-alive',
      'X-Custom-Hop',
      'gone',
      'x-pass-authorization',
      `Bearer ${OAUTH}`,
      'X-Pass-Anthropic-Beta',
      'x',
      'x-api-key',
      OAUTH,
    ]);
    for (const h of [
      'host',
      'connection',
      'keep-alive',
      'transfer-encoding',
      'te',
      'trailer',
      'upgrade',
      'expect',
      'proxy-authorization',
      'proxy-connection',
      'x-custom-hop',
      'x-pass-authorization',
      'x-pass-anthropic-beta',
    ]) {
      expect(r.map[h], h).toBeUndefined();
    }
  });

  it('Connection cannot remove what the shim injects (strip, then inject)', () => {
    const r = ok(['Connection', 'x-litellm-api-key, authorization, anthropic-beta', 'x-api-key', OAUTH], {
      litellmKey: LITELLM_KEY,
    });
    expect(r.map['x-litellm-api-key']).toEqual([LITELLM_KEY]);
    expect(r.map['authorization']).toEqual([`Bearer ${OAUTH}`]);
    expect(r.map['anthropic-beta']).toEqual(['oauth-2025-04-20']);
  });

  it('every other header passes unchanged, in order, with its case', () => {
    const passthrough = [
      'User-Agent',
      'claude-cli/2.1.330 (external, cli)',
      'anthropic-version',
      '2023-06-01',
      'X-Stainless-Lang',
      'js',
      'X-Claude-Code-Session-Id',
      'abc',
      'anthropic-dangerous-direct-browser-access',
      'true',
      'x-app',
      'cli',
      'Content-Type',
      'application/json',
      'Content-Length',
      '123',
      'Accept-Encoding',
      'gzip, br',
      'X-Unknown',
      'kept',
      'anthropic-ratelimit-whatever',
      'kept',
    ];
    const r = ok([...passthrough, 'x-api-key', API_KEY]);
    expect(r.headers.slice(0, passthrough.length)).toEqual(passthrough);
  });

  it('is pure: the input list is not modified', () => {
    const raw = ['x-api-key', OAUTH, 'anthropic-beta', 'a'];
    const copy = [...raw];
    translator()(raw, { litellmKey: LITELLM_KEY });
    expect(raw).toEqual(copy);
  });
});
