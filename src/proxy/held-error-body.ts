import type { ResponseHead } from '../vocabulary/response.js';
import { MAX_ENVELOPE_BYTES, unwrapLitellmError } from './litellm-envelope.js';
import { setHeader } from './response-headers.js';

/**
 * Only small error bodies are held back: to un-wrap an old LiteLLM's envelope, and to mask the shim's
 * own credentials an upstream echoes (issue 15, item 9). Success bodies and streams pass untouched.
 */
export function holdsBack(status: number, head: ResponseHead, method: string | undefined): boolean {
  return (
    status >= 400 &&
    !head.contentType.startsWith('text/event-stream') &&
    (head.contentEncoding === '' || head.contentEncoding === 'identity') &&
    (head.contentLength === undefined || head.contentLength <= MAX_ENVELOPE_BYTES) &&
    method !== 'HEAD'
  );
}

export interface RewrittenBody {
  readonly headers: string[];
  readonly body: Buffer;
  /** A request id found inside an envelope when the headers had none. */
  readonly requestId: string | undefined;
  readonly unwrapped: boolean;
}

/**
 * A held-back error body as the client gets it: the shim's credential values masked, then an old
 * LiteLLM's envelope un-wrapped (Anthropic's error, its request id and retry hint restored). Unchanged
 * bytes keep the upstream's headers as they were.
 */
export function rewriteHeldBody(
  head: ResponseHead,
  status: number,
  raw: Buffer,
  mask: (text: string) => string,
): RewrittenBody {
  const text = raw.toString('latin1');
  const masked = mask(text);
  const body = masked === text ? raw : Buffer.from(masked, 'latin1');
  const unwrapped = head.contentType.startsWith('application/json')
    ? unwrapLitellmError(body.toString('utf8'), status)
    : undefined;
  if (unwrapped === undefined) {
    const headers = body === raw ? head.headers : [...head.headers];
    if (body !== raw) setHeader(headers, 'content-length', String(body.length));
    return { headers, body, requestId: undefined, unwrapped: false };
  }
  const headers = [...head.headers];
  const inner = Buffer.from(unwrapped.body, 'utf8');
  setHeader(headers, 'content-length', String(inner.length));
  setHeader(headers, 'content-type', 'application/json');
  let requestId: string | undefined;
  if (head.requestId === undefined && unwrapped.requestId !== undefined) {
    headers.push('request-id', unwrapped.requestId);
    requestId = unwrapped.requestId;
  }
  if (unwrapped.retry !== undefined && !headers.some((h, i) => i % 2 === 0 && h.toLowerCase() === 'x-should-retry')) {
    headers.push('x-should-retry', String(unwrapped.retry));
  }
  headers.push('x-auth-shim-unwrapped', unwrapped.kind === 'wrapped' ? 'litellm-error-envelope' : 'litellm-error');
  return { headers, body: inner, requestId, unwrapped: true };
}
