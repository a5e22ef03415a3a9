import { type Dispatcher, request } from 'undici';
import { isObject } from '../vocabulary/guards.js';
import { readIdentityToken } from './identity-token.js';
import { normaliseSecret, tokenProblem } from './token.js';

/** RFC 7523 §2.1: the JWT bearer grant. */
export const JWT_BEARER_GRANT = 'urn:ietf:params:oauth:grant-type:jwt-bearer';

/** A token response is a few hundred bytes; a larger body is not one and is not read further. */
export const MAX_TOKEN_RESPONSE_BYTES = 64 * 1024;

/** What Anthropic needs besides the JWT to pick the federation rule and the identity (Anthropic's workload-identity-federation reference). */
export interface ExchangeSettings {
  readonly tokenUrl: URL;
  readonly identityTokenFile: string;
  readonly federationRuleId: string;
  readonly organizationId: string;
  readonly serviceAccountId: string;
  readonly workspaceId?: string | undefined;
  /** Whole exchange, connect to last byte. */
  readonly timeoutMs: number;
  readonly dispatcher?: Dispatcher | undefined;
}

/**
 * How an exchange ended, a bounded set (the `result` label of `auth_shim_federation_exchanges_total`):
 * `refused`: the endpoint answered with an OAuth error; `invalid_response`: an answer that is no token
 * response (wrong status without an OAuth error, bad JSON, no `sk-ant-oat…` token, no expiry);
 * `unreachable`: connection failure or timeout; `identity_token_error`: the JWT file could not be read.
 */
export type ExchangeResult = 'success' | 'refused' | 'invalid_response' | 'unreachable' | 'identity_token_error';
export const EXCHANGE_RESULTS: readonly ExchangeResult[] = [
  'success',
  'refused',
  'invalid_response',
  'unreachable',
  'identity_token_error',
];

export type ExchangeOutcome =
  | {
      readonly ok: true;
      readonly result: 'success';
      readonly accessToken: string;
      readonly expiresAt: Date;
      /** The lifetime the endpoint granted, in seconds. */
      readonly expiresIn: number;
    }
  | {
      readonly ok: false;
      readonly result: Exclude<ExchangeResult, 'success'>;
      /** One line for logs, readiness and the 503 a client gets; never the JWT or a token. */
      readonly problem: string;
      readonly status?: number | undefined;
    };

/**
 * One token exchange: the JWT file read afresh, POSTed as the RFC 7523 jwt-bearer grant in Anthropic's
 * JSON form, the answer read as RFC 6749 §5.1 (success) or §5.2 (`error`, `error_description`). Bounded in
 * time and size; the expiry counts from when the request was sent, so it is never later than the
 * endpoint's. `headers` carries the LiteLLM key when the exchange goes through LiteLLM.
 */
export async function exchangeToken(
  settings: ExchangeSettings,
  headers: Readonly<Record<string, string>> = {},
  signal?: AbortSignal,
): Promise<ExchangeOutcome> {
  const identity = await readIdentityToken(settings.identityTokenFile);
  if (!identity.ok) return { ok: false, result: 'identity_token_error', problem: identity.problem };
  const { jwt } = identity;
  const body = JSON.stringify({
    grant_type: JWT_BEARER_GRANT,
    assertion: jwt,
    federation_rule_id: settings.federationRuleId,
    organization_id: settings.organizationId,
    service_account_id: settings.serviceAccountId,
    ...(settings.workspaceId === undefined ? {} : { workspace_id: settings.workspaceId }),
  });
  const where = `token endpoint ${settings.tokenUrl.origin}${settings.tokenUrl.pathname}`;
  const sentAt = Date.now();
  const timeout = AbortSignal.timeout(settings.timeoutMs);
  let status: number;
  let text: string;
  try {
    const res = await request(settings.tokenUrl, {
      method: 'POST',
      headers: { ...headers, 'content-type': 'application/json', accept: 'application/json' },
      body,
      signal: signal === undefined ? timeout : AbortSignal.any([signal, timeout]),
      headersTimeout: settings.timeoutMs,
      bodyTimeout: settings.timeoutMs,
      ...(settings.dispatcher === undefined ? {} : { dispatcher: settings.dispatcher }),
    });
    status = res.statusCode;
    const read = await readBounded(res.body);
    if (read === undefined) {
      return {
        ok: false,
        result: 'invalid_response',
        status,
        problem: `${where} answered ${status} with a body over ${MAX_TOKEN_RESPONSE_BYTES} bytes`,
      };
    }
    text = read;
  } catch (err) {
    const code = timeout.aborted ? `no answer within ${settings.timeoutMs} ms` : describeError(err);
    return { ok: false, result: 'unreachable', problem: `${where} unreachable (${code})` };
  }
  return parseTokenResponse(status, text, where, sentAt, jwt);
}

/** RFC 6749 §5.1 / §5.2, plus the error shapes a gateway in between may answer with (Anthropic's, LiteLLM's). */
export function parseTokenResponse(
  status: number,
  text: string,
  where: string,
  sentAt: number,
  jwt: string,
): ExchangeOutcome {
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch {
    doc = undefined;
  }
  const fail = (result: 'refused' | 'invalid_response', problem: string): ExchangeOutcome => ({
    ok: false,
    result,
    status,
    problem: `${where} ${problem}`,
  });
  if (status !== 200) {
    const oauthError = isObject(doc) ? errorOf(doc) : undefined;
    if (oauthError === undefined) return fail('invalid_response', `answered ${status} without an OAuth error`);
    const code = oauthError.error === '' ? '' : ` ${clean(oauthError.error, 64, jwt)}`;
    const description = oauthError.description === undefined ? '' : `: ${clean(oauthError.description, 300, jwt)}`;
    return fail('refused', `refused the exchange (${status}${code}${description})`);
  }
  if (!isObject(doc)) return fail('invalid_response', 'answered 200 without a JSON object');
  const token = typeof doc.access_token === 'string' ? normaliseSecret(doc.access_token) : undefined;
  if (token === undefined) return fail('invalid_response', 'answered 200 without access_token');
  const tokenIssue = tokenProblem('oauth', token);
  if (tokenIssue !== undefined) return fail('invalid_response', `answered 200 with an access_token that ${tokenIssue}`);
  if (typeof doc.token_type !== 'string' || doc.token_type.toLowerCase() !== 'bearer')
    return fail('invalid_response', 'answered 200 with a token_type other than Bearer');
  const expiresIn = typeof doc.expires_in === 'string' ? Number(doc.expires_in) : doc.expires_in;
  if (typeof expiresIn !== 'number' || !Number.isFinite(expiresIn) || expiresIn <= 0)
    return fail('invalid_response', 'answered 200 without a positive expires_in');
  return {
    ok: true,
    result: 'success',
    accessToken: token,
    expiresIn,
    expiresAt: new Date(sentAt + expiresIn * 1000),
  };
}

/**
 * The OAuth error of a refusal: RFC 6749 §5.2 (`error` string, `error_description`), the object form
 * Anthropic's API errors and LiteLLM's own errors use (`error.type` / `error.message`), or FastAPI's `detail`.
 */
function errorOf(doc: Record<string, unknown>): { error: string; description: string | undefined } | undefined {
  const { error } = doc;
  if (typeof error === 'string')
    return {
      error,
      description: typeof doc.error_description === 'string' ? doc.error_description : undefined,
    };
  if (isObject(error)) {
    const type = typeof error.type === 'string' ? error.type : typeof error.code === 'string' ? error.code : 'error';
    return { error: type, description: typeof error.message === 'string' ? error.message : undefined };
  }
  // FastAPI's `{"detail": …}`: LiteLLM 1.106's /anthropic route refusing an exchange that carries no
  // Anthropic credential of its own ("No Anthropic credential is configured on this proxy…").
  if (typeof doc.detail === 'string') return { error: '', description: doc.detail };
  return undefined;
}

/** JWTs (the one sent, or any other), `sk-…` secrets */
const SECRETISH = /eyJ[A-Za-z0-9_-]*\.[A-Za-z0-9_-]+\.?[A-Za-z0-9_-]*|sk-[A-Za-z0-9_-]{8,}/g;

/**
 * An endpoint's text made safe to log and to send to clients: an echoed assertion or token masked, control
 * characters dropped, the length bounded.
 */
function clean(text: string, max: number, jwt: string): string {
  const masked = text.split(jwt).join('<identity token>').replace(SECRETISH, '<redacted>');
  // biome-ignore lint/suspicious/noControlCharactersInRegex: control characters are what is removed
  const printable = masked.replace(/[\u0000-\u001f\u007f]+/g, ' ');
  return printable.length > max ? `${printable.slice(0, max)}…` : printable;
}

async function readBounded(body: AsyncIterable<Buffer> & { destroy(): unknown }): Promise<string | undefined> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of body) {
    size += chunk.length;
    if (size > MAX_TOKEN_RESPONSE_BYTES) {
      body.destroy();
      return undefined;
    }
    chunks.push(chunk);
  }
  return Buffer.concat(chunks).toString('utf8');
}

function describeError(err: unknown): string {
  const e = err as { code?: string; cause?: { code?: string }; name?: string };
  return e.cause?.code ?? e.code ?? e.name ?? 'error';
}
