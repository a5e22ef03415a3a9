import { ERRORS, type ErrorKind } from './errors.js';

/** Raised by the request-body counter when a chunked body passes AUTH_SHIM_MAX_BODY_BYTES. */
export class BodyTooLargeError extends Error {
  readonly code = 'AUTH_SHIM_BODY_TOO_LARGE';
  constructor(limit: number) {
    super(`the request body is larger than AUTH_SHIM_MAX_BODY_BYTES (${limit} bytes)`);
  }
}

/** Raised to abort the upstream call when the client has gone. */
export class ClientGoneError extends Error {
  readonly code = 'AUTH_SHIM_CLIENT_GONE';
  constructor() {
    super('the client closed the connection');
  }
}

/**
 * An upstream status the shim cannot pass on as a final response: 101 (no upgrade was asked for;
 * the connection would stop being HTTP) or a code outside 100–599 (RFC 9110 §15).
 */
export class UpstreamStatusError extends Error {
  readonly code = 'AUTH_SHIM_UPSTREAM_STATUS';
  constructor(status: number) {
    super(`the upstream answered status ${status}`);
  }
}

const UNREACHABLE = new Set([
  'ECONNREFUSED',
  'ENOTFOUND',
  'EAI_AGAIN',
  'EAI_NONAME',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'EHOSTDOWN',
  'ENETDOWN',
]);
const PROTOCOL_SOCKET_ERRORS = new Set(['bad response', 'bad upgrade']);
const RESET = new Set(['ECONNRESET', 'EPIPE', 'UND_ERR_SOCKET', 'UND_ERR_CLOSED', 'ECONNABORTED']);

/**
 * The one place transport failures become error kinds (fastify-reply-from does the same in one
 * block). Undici often wraps the system error, so the cause's code counts too.
 */
export function classifyUpstreamError(err: unknown): ErrorKind {
  const code = errorCode(err);
  const causeCode = errorCode((err as { cause?: unknown } | null)?.cause);
  // undici closes the connection itself on an unsolicited `100` or an unasked-for upgrade: the
  // upstream broke HTTP, it did not merely hang up.
  if (code === 'UND_ERR_SOCKET' && PROTOCOL_SOCKET_ERRORS.has((err as Error).message)) return ERRORS.upstreamProtocol;
  for (const c of [code, causeCode]) {
    if (c === undefined) continue;
    if (c === 'AUTH_SHIM_BODY_TOO_LARGE') return ERRORS.bodyTooLarge;
    if (c === 'UND_ERR_CONNECT_TIMEOUT' || c === 'ETIMEDOUT') return ERRORS.upstreamConnectTimeout;
    if (c === 'UND_ERR_HEADERS_TIMEOUT') return ERRORS.upstreamHeadersTimeout;
    if (c === 'UND_ERR_BODY_TIMEOUT') return ERRORS.upstreamBodyTimeout;
    if (UNREACHABLE.has(c)) return ERRORS.upstreamUnreachable;
    if (
      c === 'UND_ERR_REQ_CONTENT_LENGTH_MISMATCH' ||
      c === 'ERR_STREAM_PREMATURE_CLOSE' ||
      c === 'ECONNRESET_CLIENT'
    ) {
      return ERRORS.clientBodyError;
    }
  }
  for (const c of [code, causeCode]) {
    if (c !== undefined && RESET.has(c)) return ERRORS.upstreamReset;
  }
  return ERRORS.upstreamProtocol;
}

/** A short, secret-free description of the failure for error bodies and logs. */
export function describeUpstreamError(kind: ErrorKind, err: unknown, upstreamHost: string): string {
  const code = errorCode((err as { cause?: unknown } | null)?.cause) ?? errorCode(err) ?? 'error';
  switch (kind.code) {
    case 'upstream_unreachable':
      return `auth-shim: the upstream ${upstreamHost} is unreachable (${code})`;
    case 'upstream_connect_timeout':
      return `auth-shim: connecting to the upstream ${upstreamHost} timed out (AUTH_SHIM_UPSTREAM_CONNECT_TIMEOUT_MS)`;
    case 'upstream_headers_timeout':
      return (
        `auth-shim: the upstream ${upstreamHost} sent no response headers in time ` +
        '(AUTH_SHIM_UPSTREAM_HEADERS_TIMEOUT_MS)'
      );
    case 'upstream_body_timeout':
      return (
        `auth-shim: the upstream ${upstreamHost} stopped sending the response body ` +
        '(AUTH_SHIM_UPSTREAM_BODY_TIMEOUT_MS)'
      );
    case 'upstream_reset':
      return `auth-shim: the upstream ${upstreamHost} closed the connection (${code})`;
    case 'body_too_large':
      return `auth-shim: ${(err as Error).message}`;
    case 'client_body_error':
      return 'auth-shim: the request body ended early or did not match Content-Length';
    case 'upstream_protocol_error':
      if (code === 'AUTH_SHIM_UPSTREAM_STATUS')
        return `auth-shim: the upstream ${upstreamHost} sent an invalid response (${(err as Error).message})`;
      return `auth-shim: the upstream ${upstreamHost} sent an invalid response (${code})`;
    default:
      return `auth-shim: the upstream ${upstreamHost} sent an invalid response (${code})`;
  }
}

/**
 * A transport failure as the forward chain passes it inward: classified once (`upstream-response.ts`), with
 * the secret-free message for the client and the cause's code for the log line. A decorator may set
 * `ending`: bytes that end a response already under way (SSE `event: error`) instead of cutting it.
 */
export class UpstreamFailure extends Error {
  readonly kind: ErrorKind;
  readonly causeCode: string;
  ending: string | undefined;

  constructor(err: Error, upstreamHost: string) {
    const kind = classifyUpstreamError(err);
    super(describeUpstreamError(kind, err, upstreamHost), { cause: err });
    this.kind = kind;
    this.causeCode = (err as { code?: string }).code ?? err.name;
  }
}

/** Errors where nothing reached the upstream, so sending the request again is safe. */
export function isConnectFailure(err: unknown): boolean {
  const kind = classifyUpstreamError(err);
  return kind === ERRORS.upstreamUnreachable || kind === ERRORS.upstreamConnectTimeout || kind === ERRORS.upstreamReset;
}

function errorCode(err: unknown): string | undefined {
  const code = (err as { code?: unknown } | null | undefined)?.code;
  return typeof code === 'string' ? code : undefined;
}
