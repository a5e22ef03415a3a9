import { describe, expect, it } from 'vitest';
import { holdsBack, rewriteHeldBody } from '../../src/proxy/held-error-body.js';
import { MAX_ENVELOPE_BYTES } from '../../src/proxy/litellm-envelope.js';
import type { ResponseHead } from '../../src/vocabulary/response.js';

function head(over: Partial<ResponseHead> = {}): ResponseHead {
  return {
    headers: ['content-type', 'application/json', 'content-length', '10'],
    contentType: 'application/json',
    contentLength: 10,
    contentEncoding: '',
    requestId: undefined,
    ...over,
  };
}
const noMask = (t: string): string => t;
const header = (h: string[], name: string): string | undefined =>
  h[h.findIndex((x, i) => i % 2 === 0 && x.toLowerCase() === name) + 1];

describe('holdsBack: which responses are held to be rewritten', () => {
  it.each<[string, number, Partial<ResponseHead>, string, boolean]>([
    ['a small JSON error', 429, {}, 'POST', true],
    ['a success', 200, {}, 'POST', false],
    ['an error stream', 500, { contentType: 'text/event-stream' }, 'POST', false],
    ['a compressed error', 500, { contentEncoding: 'gzip' }, 'POST', false],
    ['an error larger than an envelope', 500, { contentLength: MAX_ENVELOPE_BYTES + 1 }, 'POST', false],
    ['an error of unknown length', 500, { contentLength: undefined }, 'POST', true],
    ['HEAD (no body)', 404, {}, 'HEAD', false],
  ])('%s', (_name, status, h, method, held) => {
    expect(holdsBack(status, head(h), method)).toBe(held);
  });
});

describe('rewriteHeldBody', () => {
  it('an untouched body keeps the very bytes and headers', () => {
    const raw = Buffer.from('{"type":"error","error":{"type":"rate_limit_error","message":"slow down"}}');
    const h = head();
    const r = rewriteHeldBody(h, 429, raw, noMask);
    expect(r.body).toBe(raw);
    expect(r.headers).toBe(h.headers);
    expect(r.unwrapped).toBe(false);
  });

  it('masks a credential the upstream echoed and fixes content-length', () => {
    const secret = 'sk-litellm-virtual-TESTKEY-0123456789abcdef';
    const raw = Buffer.from(`{"detail":"bad key ${secret}"}`);
    const r = rewriteHeldBody(head({ contentType: 'text/plain' }), 401, raw, (t) => t.replaceAll(secret, '***'));
    expect(r.body.toString()).toBe('{"detail":"bad key ***"}');
    expect(header(r.headers, 'content-length')).toBe(String(r.body.length));
  });

  it("un-wraps an old LiteLLM envelope: Anthropic's error, request id and retry hint restored", () => {
    const inner = JSON.stringify({
      type: 'error',
      error: { type: 'rate_limit_error', message: 'slow down' },
      request_id: 'req_011',
    });
    const raw = Buffer.from(JSON.stringify({ error: { message: inner, type: 'None', param: 'None', code: '429' } }));
    const r = rewriteHeldBody(head(), 429, raw, noMask);
    expect(r.unwrapped).toBe(true);
    expect(JSON.parse(r.body.toString())).toMatchObject({ type: 'error', error: { type: 'rate_limit_error' } });
    expect(r.requestId).toBe('req_011');
    expect(header(r.headers, 'request-id')).toBe('req_011');
    expect(header(r.headers, 'x-auth-shim-unwrapped')).toBe('litellm-error-envelope');
    expect(header(r.headers, 'content-length')).toBe(String(r.body.length));
  });
});
