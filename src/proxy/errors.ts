/**
 * Every error the shim answers by itself. Each kind has a stable code (logged, counted, sent in
 * `x-auth-shim-error`), the HTTP status, the Anthropic error `type`, and whether the client should
 * retry. Claude Code retries even a 401 for ~3 minutes unless `x-should-retry: false` is present,
 * so every non-transient kind says so explicitly.
 */
export interface ErrorKind {
  readonly code: string;
  readonly status: number;
  readonly type: string;
  readonly retry: boolean;
}

function kind(code: string, status: number, type: string, retry: boolean): ErrorKind {
  return Object.freeze({ code, status, type, retry });
}

export const ERRORS = Object.freeze({
  missingCredential: kind('missing_credential', 401, 'authentication_error', false),
  credentialNotAllowed: kind('credential_not_allowed', 403, 'permission_error', false),
  ambiguousCredential: kind('ambiguous_credential', 400, 'invalid_request_error', false),
  pathNotAllowed: kind('path_not_allowed', 404, 'not_found_error', false),
  methodNotAllowed: kind('method_not_allowed', 405, 'invalid_request_error', false),
  bodyTooLarge: kind('body_too_large', 413, 'request_too_large', false),
  // 429 rather than 503: Claude Code's gateway contract gives 429 `rate_limit_error` + Retry-After
  // to "too many requests, come back shortly", and the SDK and Claude Code honour the Retry-After;
  // a 5xx says the server failed. Anthropic answers its own concurrency limits the same way.
  tooManyInflight: kind('too_many_inflight_requests', 429, 'rate_limit_error', true),
  notReady: kind('not_ready', 503, 'api_error', true),
  // Issue 17: the exchange is retried in the background, so a client's retry may well succeed.
  federationUnavailable: kind('federation_unavailable', 503, 'api_error', true),
  shuttingDown: kind('shutting_down', 503, 'api_error', true),
  upstreamUnreachable: kind('upstream_unreachable', 502, 'api_error', true),
  upstreamConnectTimeout: kind('upstream_connect_timeout', 504, 'api_error', true),
  upstreamHeadersTimeout: kind('upstream_headers_timeout', 504, 'api_error', true),
  upstreamBodyTimeout: kind('upstream_body_timeout', 504, 'api_error', true),
  upstreamReset: kind('upstream_reset', 502, 'api_error', true),
  upstreamProtocol: kind('upstream_protocol_error', 502, 'api_error', true),
  clientBodyError: kind('client_body_error', 400, 'invalid_request_error', false),
  internal: kind('internal_error', 500, 'api_error', true),
} satisfies Record<string, ErrorKind>);

export type ErrorCode = (typeof ERRORS)[keyof typeof ERRORS]['code'];

/** The body Anthropic itself sends for an error, so SDKs and Claude Code classify it correctly. */
export function errorBody(type: string, message: string): string {
  return JSON.stringify({ type: 'error', error: { type, message } });
}

/** A shim-made error, as the SSE event Anthropic streams after a 200 (`event: error`). */
export function errorEvent(type: string, message: string): string {
  return `event: error\ndata: ${errorBody(type, message)}\n\n`;
}

/** Response headers for a shim-made error: a flat list ready for `writeHead`. */
export function errorHeaders(kind: ErrorKind, body: string): string[] {
  return [
    'content-type',
    'application/json',
    'content-length',
    String(Buffer.byteLength(body)),
    'x-should-retry',
    kind.retry ? 'true' : 'false',
    'x-auth-shim-error',
    kind.code,
  ];
}
