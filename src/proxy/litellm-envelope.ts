import { isObject } from '../vocabulary/guards.js';
import type { ResponseHead } from '../vocabulary/response.js';
import type { DecoratorFactory } from './chain.js';
import { HeldBody, type HeldRewrite } from './held-error-body.js';
import { setHeader } from './response-headers.js';

/**
 * LiteLLM answers errors in its own envelope, `{"error":{"message":…,"type":…,"param":…,"code":…}}`,
 * which Anthropic clients cannot classify (Claude Code spent 11 attempts on a wrapped
 * `overloaded_error`; an unknown 401 is retried for ~3 minutes). Two cases:
 * - before PR #32133 it wraps an upstream Anthropic error, keeping the status, with `type: "None"`
 *   and the Anthropic JSON as the message (a Python bytes repr `b'…'` for `stream: true`
 *   requests): we return the inner Anthropic error unchanged;
 * - its own errors (a bad virtual key, a budget exceeded, …): we answer the same status with an
 *   Anthropic-shaped error carrying LiteLLM's message, minus any key fragment it echoes.
 * A body that is not exactly this envelope is left alone.
 */

/**
 * The forward chain's link for LiteLLM before PR #32133: a small JSON error body is held back and, when it
 * is LiteLLM's envelope, replaced by the Anthropic error (its request id and retry hint restored). Dropping
 * support for those releases is deleting this file and its entry in `forward-chain.ts`.
 */
class UnwrapLitellmEnvelope extends HeldBody {
  protected override holds(status: number, head: ResponseHead): boolean {
    return super.holds(status, head) && head.contentType.startsWith('application/json');
  }

  protected rewrite(status: number, head: ResponseHead, body: Buffer): HeldRewrite {
    const r = unwrapHeldBody(head, status, body);
    if (r.head === head) return r;
    const outcome = this.exchange.outcome;
    outcome.unwrapped = true;
    if (r.head.requestId !== head.requestId) outcome.requestId = r.head.requestId;
    return r;
  }
}

export const unwrapLitellmEnvelope: DecoratorFactory = (inner, exchange) => new UnwrapLitellmEnvelope(inner, exchange);

/**
 * A held-back JSON error body as the client gets it: LiteLLM's envelope replaced by the Anthropic error,
 * `request-id` (when the headers had none) and `x-should-retry` restored; anything else unchanged.
 */
export function unwrapHeldBody(head: ResponseHead, status: number, raw: Buffer): HeldRewrite {
  const unwrapped = unwrapLitellmError(raw.toString('utf8'), status);
  if (unwrapped === undefined) return { head, body: raw };
  const headers = [...head.headers];
  const body = Buffer.from(unwrapped.body, 'utf8');
  setHeader(headers, 'content-length', String(body.length));
  setHeader(headers, 'content-type', 'application/json');
  let requestId = head.requestId;
  if (requestId === undefined && unwrapped.requestId !== undefined) {
    headers.push('request-id', unwrapped.requestId);
    requestId = unwrapped.requestId;
  }
  if (unwrapped.retry !== undefined && !headers.some((h, i) => i % 2 === 0 && h.toLowerCase() === 'x-should-retry')) {
    headers.push('x-should-retry', String(unwrapped.retry));
  }
  headers.push('x-auth-shim-unwrapped', unwrapped.kind === 'wrapped' ? 'litellm-error-envelope' : 'litellm-error');
  return {
    head: {
      headers,
      contentType: 'application/json',
      contentLength: body.length,
      contentEncoding: head.contentEncoding,
      requestId,
    },
    body,
  };
}

export interface UnwrappedError {
  /** `wrapped`: the inner Anthropic error as LiteLLM received it; `litellm`: LiteLLM's own error, reshaped. */
  readonly kind: 'wrapped' | 'litellm';
  readonly body: string;
  /** The inner `request_id`, to restore the `request-id` header SDKs read. */
  readonly requestId: string | undefined;
  /** For LiteLLM's own credential errors: tell clients not to retry (they will not fix themselves). */
  readonly retry: boolean | undefined;
}

/** Anthropic's error type for a status (Anthropic's and Claude Code's gateway contract). */
export function anthropicErrorType(status: number): string {
  switch (status) {
    case 400:
      return 'invalid_request_error';
    case 401:
      return 'authentication_error';
    case 402:
      return 'billing_error';
    case 403:
      return 'permission_error';
    case 404:
      return 'not_found_error';
    case 413:
      return 'request_too_large';
    case 429:
      return 'rate_limit_error';
    case 529:
      return 'overloaded_error';
    default:
      return status >= 500 ? 'api_error' : 'invalid_request_error';
  }
}

/** LiteLLM echoes part of a refused key (`Received API Key = sk-…ab`); never pass a fragment on. */
const KEY_FRAGMENT = /\bsk-[^\s,;"')]*/g;

export function unwrapLitellmError(raw: string, status: number): UnwrappedError | undefined {
  const outer = parseObject(raw);
  const envelope = outer?.['error'];
  if (
    outer === undefined ||
    outer['type'] === 'error' ||
    !isObject(envelope) ||
    typeof envelope['message'] !== 'string'
  )
    return undefined;
  // LiteLLM's envelope always has these four fields; other gateways' `{"error":{…}}` is left alone.
  if (!('type' in envelope) || !('param' in envelope) || !('code' in envelope)) return undefined;
  // LiteLLM stringifies Python's None for type and param when it wraps an upstream error.
  if (envelope['type'] !== 'None') return litellmOwn(envelope['message'], status, envelope['type']);

  let message = envelope['message'];
  if (message.startsWith("b'") || message.startsWith('b"')) {
    const decoded = decodePythonBytesRepr(message);
    if (decoded === undefined) return litellmOwn(envelope['message'], status);
    message = decoded;
  }
  const inner = parseObject(message);
  if (inner === undefined || inner['type'] !== 'error') return litellmOwn(envelope['message'], status);
  const error = inner['error'];
  if (!isObject(error) || typeof error['type'] !== 'string') return litellmOwn(envelope['message'], status);
  const requestId = typeof inner['request_id'] === 'string' ? inner['request_id'] : undefined;
  return { kind: 'wrapped', body: message, requestId, retry: undefined };
}

/**
 * A virtual key over its `max_budget`: LiteLLM answers 400 (1.82.6) or 422 (1.106.4) with type
 * `budget_exceeded` (issue 18). A budget does not refill in seconds, so it is Anthropic's
 * `billing_error` and no client should retry it (Claude Code would, for minutes, on a bare 4xx it
 * cannot classify).
 */
const BUDGET_EXCEEDED = 'budget_exceeded';

function litellmOwn(message: string, status: number, litellmType?: unknown): UnwrappedError {
  const clean = message.replace(KEY_FRAGMENT, 'sk-***').slice(0, 2000);
  const budget = litellmType === BUDGET_EXCEEDED;
  const type = budget ? 'billing_error' : anthropicErrorType(status);
  const body = JSON.stringify({ type: 'error', error: { type, message: `LiteLLM: ${clean}` } });
  return {
    kind: 'litellm',
    body,
    requestId: undefined,
    retry: budget || status === 401 || status === 403 ? false : undefined,
  };
}

/**
 * Decodes Python's `repr(bytes)`: `b'…'` or `b"…"` with `\\`, `\'`, `\"`, `\n`, `\r`, `\t` and
 * `\xNN` escapes, then reads the bytes as UTF-8. Returns undefined for anything malformed.
 */
export function decodePythonBytesRepr(repr: string): string | undefined {
  const quote = repr[1];
  if (repr.length < 3 || repr[0] !== 'b' || (quote !== "'" && quote !== '"') || repr[repr.length - 1] !== quote) {
    return undefined;
  }
  const bytes: number[] = [];
  const end = repr.length - 1;
  for (let i = 2; i < end; i++) {
    const c = repr.charCodeAt(i);
    if (c > 0x7e || c < 0x20) return undefined; // repr(bytes) is printable ASCII only
    if (c !== 0x5c /* \ */) {
      bytes.push(c);
      continue;
    }
    const e = repr[++i];
    switch (e) {
      case '\\':
        bytes.push(0x5c);
        break;
      case "'":
        bytes.push(0x27);
        break;
      case '"':
        bytes.push(0x22);
        break;
      case 'n':
        bytes.push(0x0a);
        break;
      case 'r':
        bytes.push(0x0d);
        break;
      case 't':
        bytes.push(0x09);
        break;
      case 'x': {
        const hex = repr.slice(i + 1, i + 3);
        if (!/^[0-9a-fA-F]{2}$/.test(hex)) return undefined;
        bytes.push(Number.parseInt(hex, 16));
        i += 2;
        break;
      }
      default:
        return undefined;
    }
  }
  try {
    return new TextDecoder('utf-8', { fatal: true }).decode(Uint8Array.from(bytes));
  } catch {
    return undefined;
  }
}

function parseObject(text: string): Record<string, unknown> | undefined {
  try {
    const v: unknown = JSON.parse(text);
    return isObject(v) ? v : undefined;
  } catch {
    return undefined;
  }
}
