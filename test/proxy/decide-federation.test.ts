import { describe, expect, it } from 'vitest';
import { type AdmissionPolicy, decide, type RequestHead } from '../../src/proxy/decide.js';
import { ERRORS } from '../../src/proxy/errors.js';
import { createPathPolicy } from '../../src/proxy/paths.js';
import { createTranslator } from '../../src/proxy/translate.js';
import type { CredentialSourcePolicy, ShimCredentials } from '../../src/vocabulary/credentials.js';
import { DEFAULT_ALLOWED_PATHS } from '../../src/vocabulary/path-patterns.js';
import { API_KEY, LITELLM_KEY, OAUTH, OAUTH_2 } from '../helpers/shim.js';

/*
 * decide() with Workload Identity Federation (issue 17): the shim's OAuth credential is a federated token,
 * forwarded only while unexpired; without one, a retryable 503 naming why — row by row, no sockets.
 */

const NOW = Date.parse('2026-12-01T12:00:00Z');
const LATER = new Date(NOW + 60_000);
const EARLIER = new Date(NOW - 1);
const EXACTLY_NOW = new Date(NOW);
const REASON =
  'Workload Identity Federation (fdrl_1): token endpoint http://x/v1/oauth/token refused the exchange (400 invalid_grant: no rule matches)';

function policy(source: CredentialSourcePolicy, litellmKeyRequired = false): AdmissionPolicy {
  return {
    paths: createPathPolicy(DEFAULT_ALLOWED_PATHS),
    translate: createTranslator({ source, allowed: ['oauth', 'api-key'], litellmKeyHeader: 'x-litellm-api-key' }),
    maxBodyBytes: 1000,
    credentialSource: source,
    litellmKeyRequired,
  };
}

const PLACEHOLDER: RequestHead = {
  method: 'POST',
  target: '/v1/messages',
  contentLength: '10',
  rawHeaders: ['x-api-key', 'placeholder'],
};
const CLIENT_OAUTH: RequestHead = { ...PLACEHOLDER, rawHeaders: ['x-api-key', OAUTH_2] };

function snap(credentials: ShimCredentials, expiresAt: Date | undefined, reasons: string[] = []) {
  return { credentials, notReadyReasons: () => reasons, federation: { expiresAt, now: NOW } };
}

type Row = [
  name: string,
  source: CredentialSourcePolicy,
  head: RequestHead,
  creds: ShimCredentials,
  expiresAt: Date | undefined,
  expected: { bearer: string } | { refused: typeof ERRORS.federationUnavailable | typeof ERRORS.notReady },
];

const ROWS: Row[] = [
  ['an unexpired federated token is forwarded', 'shim-only', PLACEHOLDER, { oauth: OAUTH }, LATER, { bearer: OAUTH }],
  [
    'an expired one is not: 503 federation_unavailable',
    'shim-only',
    PLACEHOLDER,
    { oauth: OAUTH },
    EARLIER,
    { refused: ERRORS.federationUnavailable },
  ],
  [
    'a token expiring this very millisecond counts as expired',
    'shim-only',
    PLACEHOLDER,
    { oauth: OAUTH },
    EXACTLY_NOW,
    { refused: ERRORS.federationUnavailable },
  ],
  [
    'a token whose expiry is unknown is never trusted',
    'shim-only',
    PLACEHOLDER,
    { oauth: OAUTH },
    undefined,
    { refused: ERRORS.federationUnavailable },
  ],
  [
    'no token yet (first exchange pending or failing)',
    'shim-only',
    PLACEHOLDER,
    {},
    undefined,
    { refused: ERRORS.federationUnavailable },
  ],
  [
    'client-first: a client with its own OAuth token needs no federated token',
    'client-first',
    CLIENT_OAUTH,
    { oauth: OAUTH },
    EARLIER,
    { bearer: OAUTH_2 },
  ],
  [
    'client-first: a client with a placeholder gets the federated token',
    'client-first',
    PLACEHOLDER,
    { oauth: OAUTH },
    LATER,
    { bearer: OAUTH },
  ],
  [
    'client-first: a placeholder and an expired federated token: 503',
    'client-first',
    PLACEHOLDER,
    { oauth: OAUTH },
    EARLIER,
    { refused: ERRORS.federationUnavailable },
  ],
];

describe('decide() with Workload Identity Federation, row by row', () => {
  it.each(ROWS)('%s', (_name, source, head, creds, expiresAt, expected) => {
    const v = decide(policy(source), head, snap(creds, expiresAt, [REASON]));
    if ('bearer' in expected) {
      expect(v.ok).toBe(true);
      if (!v.ok) return;
      expect(v.headers).toContain(`Bearer ${expected.bearer}`);
      return;
    }
    expect(v.ok).toBe(false);
    if (v.ok) return;
    expect(v.error).toBe(expected.refused);
    expect(v.route).toBe('/v1/messages');
  });

  it('the refusal is a retryable 503 naming the exchange problem', () => {
    const v = decide(policy('shim-only'), PLACEHOLDER, snap({ oauth: OAUTH }, EARLIER, [REASON]));
    expect(v).toEqual({
      ok: false,
      route: '/v1/messages',
      error: ERRORS.federationUnavailable,
      message: `auth-shim: no valid Workload Identity Federation token (${REASON})`,
    });
    expect(ERRORS.federationUnavailable).toMatchObject({ status: 503, type: 'api_error', retry: true });
  });

  it('says so when no reason is known yet', () => {
    const v = decide(policy('shim-only'), PLACEHOLDER, snap({}, undefined, []));
    expect(!v.ok && v.message).toBe(
      'auth-shim: no valid Workload Identity Federation token (no exchange has succeeded yet)',
    );
  });

  it('the expired token never leaks into a fallback: an API key is used instead when the shim holds one', () => {
    const v = decide(policy('shim-only'), PLACEHOLDER, snap({ oauth: OAUTH, apiKey: API_KEY }, EARLIER));
    expect(v.ok && v.credential).toBe('api-key');
    expect(v.ok && v.headers).not.toContain(`Bearer ${OAUTH}`);
  });

  it('the LiteLLM key rule still comes first', () => {
    const v = decide(policy('shim-only', true), PLACEHOLDER, snap({ oauth: OAUTH }, LATER, ['litellm: not loaded']));
    expect(!v.ok && v.error).toBe(ERRORS.notReady);
    const ok = decide(policy('shim-only', true), PLACEHOLDER, snap({ oauth: OAUTH, litellmKey: LITELLM_KEY }, LATER));
    expect(ok.ok).toBe(true);
  });

  it('without federation the expiry is not decide()’s business (a mounted token is forwarded as before)', () => {
    const v = decide(policy('shim-only'), PLACEHOLDER, { credentials: { oauth: OAUTH }, notReadyReasons: () => [] });
    expect(v.ok).toBe(true);
  });
});
