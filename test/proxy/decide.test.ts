import { describe, expect, it } from 'vitest';
import { decide, type AdmissionPolicy, type RequestHead, type Verdict } from '../../src/proxy/decide.js';
import { ERRORS, type ErrorKind } from '../../src/proxy/errors.js';
import { createPathPolicy } from '../../src/proxy/paths.js';
import { createTranslator } from '../../src/proxy/translate.js';
import type { CredentialSourcePolicy, ShimCredentials } from '../../src/vocabulary/credentials.js';
import { DEFAULT_ALLOWED_PATHS } from '../../src/vocabulary/path-patterns.js';
import { LITELLM_KEY, OAUTH } from '../helpers/shim.js';

function policy(over: Partial<AdmissionPolicy> & { source?: CredentialSourcePolicy } = {}): AdmissionPolicy {
  const source = over.source ?? 'client-first';
  return {
    paths: createPathPolicy(DEFAULT_ALLOWED_PATHS),
    translate: createTranslator({ source, allowed: ['oauth', 'api-key'], litellmKeyHeader: 'x-litellm-api-key' }),
    maxBodyBytes: 1000,
    credentialSource: source,
    litellmKeyRequired: false,
    ...over,
  };
}

function head(over: Partial<RequestHead> = {}): RequestHead {
  return { method: 'POST', target: '/v1/messages', contentLength: '10', rawHeaders: ['x-api-key', OAUTH], ...over };
}

function snap(credentials: ShimCredentials = {}, reasons: string[] = []) {
  return { credentials, notReadyReasons: () => reasons };
}

function refused(v: Verdict): { route: string; error: ErrorKind; message: string } {
  if (v.ok) throw new Error(`expected a refusal, got ${v.route}`);
  return v;
}

const SECRET_NOT_LOADED = ['Secret agents/claude key "token": not loaded yet'];

describe('decide(requestHead, snapshot) — the admission rules, row by row', () => {
  it.each<[string, Partial<RequestHead>, ErrorKind, string]>([
    ['PUT is not a method the shim forwards', { method: 'PUT' }, ERRORS.methodNotAllowed, '/v1/messages'],
    [
      'an unknown method on a refused path names neither',
      { method: 'DELETE', target: '/key/generate' },
      ERRORS.methodNotAllowed,
      '(rejected)',
    ],
    ['a path outside the allowlist', { target: '/key/generate' }, ERRORS.pathNotAllowed, '(rejected)'],
    ['absolute-form target', { target: 'http://evil.example/v1/messages' }, ERRORS.pathNotAllowed, '(rejected)'],
    ['encoded traversal', { target: '/v1/models/%2e%2e' }, ERRORS.pathNotAllowed, '(rejected)'],
    ['declared body over AUTH_SHIM_MAX_BODY_BYTES', { contentLength: '1001' }, ERRORS.bodyTooLarge, '/v1/messages'],
    [
      'no credential at all (client-first, nothing loaded to wait for)',
      { rawHeaders: [] },
      ERRORS.missingCredential,
      '/v1/messages',
    ],
    [
      'two x-api-key headers',
      { rawHeaders: ['x-api-key', OAUTH, 'x-api-key', OAUTH] },
      ERRORS.ambiguousCredential,
      '/v1/messages',
    ],
  ])('%s', (_name, h, error, route) => {
    const v = refused(decide(policy(), head(h), snap()));
    expect(v.error).toBe(error);
    expect(v.route).toBe(route);
  });

  it('a declared body exactly at the limit passes', () => {
    expect(decide(policy(), head({ contentLength: '1000' }), snap()).ok).toBe(true);
  });

  it('route names the allowlist entry, never the concrete path', () => {
    const v = decide(
      policy(),
      head({ method: 'GET', target: '/v1/models/claude-x?beta=true', contentLength: undefined }),
      snap(),
    );
    expect(v).toMatchObject({
      ok: true,
      route: '/v1/models/{id}',
      path: '/v1/models/claude-x',
      query: '?beta=true',
      credential: 'oauth',
      origin: 'client',
    });
  });

  it("a configured LiteLLM key not loaded yet: 503 not_ready with the store's reasons", () => {
    const v = refused(decide(policy({ litellmKeyRequired: true }), head(), snap({}, ['litellm key: not loaded yet'])));
    expect(v.error).toBe(ERRORS.notReady);
    expect(v.message).toContain('litellm key: not loaded yet');
  });

  it('the LiteLLM key loaded: forwarded, the key injected', () => {
    const v = decide(policy({ litellmKeyRequired: true }), head(), snap({ litellmKey: LITELLM_KEY }));
    if (!v.ok) throw new Error(v.message);
    expect(v.headers).toContain(LITELLM_KEY);
  });

  it("no credential while the shim's Secret is still loading: 503 not_ready (retryable), not 401", () => {
    const v = refused(decide(policy({ source: 'shim-only' }), head({ rawHeaders: [] }), snap({}, SECRET_NOT_LOADED)));
    expect(v.error).toBe(ERRORS.notReady);
    expect(v.message).toContain(SECRET_NOT_LOADED[0]);
  });

  it("client-only never waits on the shim's store: 401 missing_credential", () => {
    const v = refused(decide(policy({ source: 'client-only' }), head({ rawHeaders: [] }), snap({}, SECRET_NOT_LOADED)));
    expect(v.error).toBe(ERRORS.missingCredential);
  });

  it("shim-only with the shim's token loaded: forwarded with the shim's credential", () => {
    const v = decide(policy({ source: 'shim-only' }), head({ rawHeaders: [] }), snap({ oauth: OAUTH }));
    expect(v).toMatchObject({ ok: true, credential: 'oauth', origin: 'shim' });
  });

  it("the store's reasons are asked for only on a refusal", () => {
    let asked = 0;
    const v = decide(policy(), head(), { credentials: {}, notReadyReasons: () => (asked++, []) });
    expect(v.ok).toBe(true);
    expect(asked).toBe(0);
  });
});
