import {
  classifyToken,
  type CredentialKind,
  type CredentialOrigin,
  type CredentialSourcePolicy,
  type ShimCredentials,
} from '../vocabulary/credentials.js';
import { ERRORS, type ErrorKind } from './errors.js';
import { HOP_BY_HOP } from './hop-by-hop.js';

export interface TranslatePolicy {
  readonly source: CredentialSourcePolicy;
  readonly allowed: readonly CredentialKind[];
  /** Header that carries the LiteLLM virtual key (LiteLLM's `litellm_key_header_name`). */
  readonly litellmKeyHeader: string;
}

export type Translation =
  | {
      readonly ok: true;
      /** Flat `[name, value, …]` list for undici, client order and case kept. */
      readonly headers: string[];
      readonly credential: CredentialKind;
      readonly origin: CredentialOrigin;
    }
  | { readonly ok: false; readonly error: ErrorKind; readonly message: string };

export type Translator = (rawHeaders: readonly string[], creds: ShimCredentials) => Translation;

export const OAUTH_BETA = 'oauth-2025-04-20';

/**
 * Hop-by-hop headers (RFC 9110 §7.6.1) plus those undici refuses or sets itself. `host` becomes
 * the upstream's; `expect` is answered by Node's server, never forwarded.
 */
const REQUEST_HOP_BY_HOP = new Set([...HOP_BY_HOP, 'expect', 'host', 'http2-settings']);

/**
 * Headers LiteLLM treats as *its* key (`x-litellm-api-key`, `api-key`; `authorization` and
 * `x-api-key` are handled as Anthropic credentials). A client copy must never reach LiteLLM:
 * it would either override the injected key or be forwarded to Anthropic.
 */
const LITELLM_KEY_HEADERS = ['x-litellm-api-key', 'api-key'];

const BEARER = /^bearer[ \t]+([^ \t]+)[ \t]*$/i;

/** Builds the translator for one configuration; per-request work is a single pass over headers. */
export function createTranslator(policy: TranslatePolicy): Translator {
  const stripped = new Set([...REQUEST_HOP_BY_HOP, ...LITELLM_KEY_HEADERS, policy.litellmKeyHeader.toLowerCase()]);
  const readsClient = policy.source !== 'shim-only';
  const allowed = new Set(policy.allowed);
  const injectedLitellm = policy.litellmKeyHeader;

  return function translate(raw, creds) {
    // Headers named in Connection are hop-by-hop for this message (RFC 9110 §7.6.1). They are
    // dropped before anything is injected, so `Connection: x-litellm-api-key` cannot remove
    // a header the shim adds — the shim adds its own after this list is applied.
    let connectionListed: Set<string> | undefined;
    for (let i = 0; i < raw.length; i += 2) {
      const name = raw[i] as string;
      // Length first: lower-casing every name here would allocate a string per header.
      if (name.length === 10 && name.toLowerCase() === 'connection') {
        connectionListed ??= new Set();
        for (const token of (raw[i + 1] as string).split(',')) connectionListed.add(token.trim().toLowerCase());
      }
    }

    const out: string[] = [];
    let xApiKey: string | undefined;
    let authorization: string | undefined;
    let duplicate: string | undefined;
    let lastBetaIndex = -1;

    for (let i = 0; i < raw.length; i += 2) {
      const name = raw[i] as string;
      const value = raw[i + 1] as string;
      const lower = name.toLowerCase();
      if (stripped.has(lower) || connectionListed?.has(lower)) continue;
      if (lower.startsWith('proxy-')) continue;
      // LiteLLM ≥1.81.3 turns `x-pass-<name>` into `<name>` upstream (even `x-pass-authorization`).
      if (lower.startsWith('x-pass-')) continue;
      if (lower === 'x-api-key') {
        if (xApiKey !== undefined) duplicate = 'x-api-key';
        xApiKey = value;
        continue;
      }
      if (lower === 'authorization') {
        if (authorization !== undefined) duplicate = 'authorization';
        authorization = value;
        continue;
      }
      if (lower === 'anthropic-beta') lastBetaIndex = out.length;
      out.push(name, value);
    }

    let token: string | undefined;
    let credential: CredentialKind | undefined;
    let origin: CredentialOrigin = 'client';

    if (readsClient) {
      if (duplicate !== undefined) {
        return fail(ERRORS.ambiguousCredential, `the request has more than one ${duplicate} header`);
      }
      // Anthropic decides on x-api-key when both arrive (BerriAI/litellm#37418), so it wins here
      // too; a header that holds no Anthropic credential (a placeholder) never counts.
      const bearer = authorization === undefined ? undefined : BEARER.exec(authorization)?.[1];
      const xKind = xApiKey === undefined ? undefined : classifyToken(xApiKey);
      const bKind = bearer === undefined ? undefined : classifyToken(bearer);
      if (xKind !== undefined) {
        token = xApiKey;
        credential = xKind;
      } else if (bKind !== undefined) {
        token = bearer;
        credential = bKind;
      }
      if (credential === undefined && policy.source === 'client-only') {
        return fail(ERRORS.missingCredential, missingClientMessage(xApiKey, authorization));
      }
    }

    if (credential === undefined) {
      origin = 'shim';
      if (creds.oauth !== undefined && allowed.has('oauth')) {
        token = creds.oauth;
        credential = 'oauth';
      } else if (creds.apiKey !== undefined && allowed.has('api-key')) {
        token = creds.apiKey;
        credential = 'api-key';
      } else {
        return fail(ERRORS.missingCredential, missingShimMessage(policy.source, xApiKey, authorization));
      }
    }

    if (!allowed.has(credential)) {
      return fail(
        ERRORS.credentialNotAllowed,
        `auth-shim: ${describeKind(credential)} credentials are not allowed here ` +
          `(AUTH_SHIM_ALLOWED_CREDENTIALS=${policy.allowed.join(',')})`,
      );
    }

    if (credential === 'oauth') {
      out.push('authorization', `Bearer ${token as string}`);
      mergeOauthBeta(out, lastBetaIndex);
    } else {
      out.push('x-api-key', token as string);
    }
    if (creds.litellmKey !== undefined) out.push(injectedLitellm, creds.litellmKey);

    return { ok: true, headers: out, credential, origin };
  };
}

/**
 * Adds `oauth-2025-04-20` to the `anthropic-beta` list once, keeping every other value and its
 * order; a list that already has it is left byte for byte.
 */
export function mergeOauthBeta(out: string[], lastBetaIndex: number): void {
  if (lastBetaIndex < 0) {
    out.push('anthropic-beta', OAUTH_BETA);
    return;
  }
  for (let i = 0; i < out.length; i += 2) {
    if ((out[i] as string).toLowerCase() !== 'anthropic-beta') continue;
    for (const v of (out[i + 1] as string).split(',')) if (v.trim() === OAUTH_BETA) return;
  }
  const current = (out[lastBetaIndex + 1] as string).trim();
  out[lastBetaIndex + 1] = current === '' ? OAUTH_BETA : `${current},${OAUTH_BETA}`;
}

function fail(error: ErrorKind, message: string): Translation {
  return { ok: false, error, message };
}

function describeKind(kind: CredentialKind): string {
  return kind === 'oauth' ? 'subscription OAuth (sk-ant-oat…)' : 'API key (sk-ant-api…)';
}

function whatClientSent(xApiKey: string | undefined, authorization: string | undefined): string {
  const parts: string[] = [];
  if (xApiKey !== undefined) parts.push('x-api-key');
  if (authorization !== undefined) parts.push('authorization');
  return parts.length === 0
    ? 'the request has no x-api-key or authorization header'
    : `the request's ${parts.join(' and ')} header${parts.length > 1 ? 's hold' : ' holds'} no Anthropic credential ` +
        '(expected sk-ant-oat… or sk-ant-api…)';
}

function missingClientMessage(xApiKey: string | undefined, authorization: string | undefined): string {
  return (
    `auth-shim: no Anthropic credential: ${whatClientSent(xApiKey, authorization)}, ` +
    'and AUTH_SHIM_CREDENTIAL_SOURCE=client-only'
  );
}

function missingShimMessage(
  source: CredentialSourcePolicy,
  xApiKey: string | undefined,
  authorization: string | undefined,
): string {
  const shim = 'auth-shim has no usable credential loaded (AUTH_SHIM_OAUTH_TOKEN_FILE / AUTH_SHIM_API_KEY_FILE)';
  return source === 'shim-only'
    ? `auth-shim: no Anthropic credential: ${shim}`
    : `auth-shim: no Anthropic credential: ${whatClientSent(xApiKey, authorization)}, and ${shim}`;
}
