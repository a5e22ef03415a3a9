import { describe, expect, it } from 'vitest';
import { unwrapHeldBody, unwrapLitellmEnvelope } from '../../src/proxy/litellm-envelope.js';
import type { ResponseHead } from '../../src/vocabulary/response.js';
import { exchange, feed, head, Recorder } from './_chain.js';

const header = (h: string[], name: string): string | undefined =>
  h[h.findIndex((x, i) => i % 2 === 0 && x.toLowerCase() === name) + 1];
const inner = JSON.stringify({
  type: 'error',
  error: { type: 'rate_limit_error', message: 'slow down' },
  request_id: 'req_011',
});
const envelope = JSON.stringify({ error: { message: inner, type: 'None', param: 'None', code: '429' } });

describe('unwrapHeldBody', () => {
  it("un-wraps an old LiteLLM envelope: Anthropic's error, request id and retry hint restored", () => {
    const r = unwrapHeldBody(head(), 429, Buffer.from(envelope));
    expect(JSON.parse(r.body.toString())).toMatchObject({ type: 'error', error: { type: 'rate_limit_error' } });
    expect(r.head.requestId).toBe('req_011');
    expect(header(r.head.headers, 'request-id')).toBe('req_011');
    expect(header(r.head.headers, 'x-auth-shim-unwrapped')).toBe('litellm-error-envelope');
    expect(header(r.head.headers, 'content-length')).toBe(String(r.body.length));
  });

  it('an Anthropic error is left as it is, head and bytes', () => {
    const h = head();
    const raw = Buffer.from(inner);
    const r = unwrapHeldBody(h, 429, raw);
    expect(r.head).toBe(h);
    expect(r.body).toBe(raw);
  });
});

describe('unwrapLitellmEnvelope: the chain link', () => {
  it("replaces the envelope and notes it in the exchange's outcome", () => {
    const next = new Recorder();
    const x = exchange();
    feed(unwrapLitellmEnvelope(next, x), 429, head({ contentLength: undefined, headers: [] }), [
      envelope.slice(0, 20),
      envelope.slice(20),
    ]);
    expect(next.events.map((e) => e.on)).toEqual(['start', 'data', 'end']);
    expect(JSON.parse(next.body())).toMatchObject({ error: { type: 'rate_limit_error', message: 'slow down' } });
    expect(x.outcome.unwrapped).toBe(true);
    expect(x.outcome.requestId).toBe('req_011');
  });

  it('never holds a body that is not JSON: chunks pass as they come', () => {
    const next = new Recorder();
    const x = exchange();
    feed(unwrapLitellmEnvelope(next, x), 429, head({ contentType: 'text/plain' }), [
      envelope.slice(0, 20),
      envelope.slice(20),
    ]);
    expect(next.events.map((e) => e.on)).toEqual(['start', 'data', 'data', 'end']);
    expect(next.body()).toBe(envelope);
    expect(x.outcome.unwrapped).toBe(false);
  });

  it('a success is never looked at', () => {
    const next = new Recorder();
    feed(unwrapLitellmEnvelope(next, exchange()), 200, head(), [envelope]);
    expect(next.body()).toBe(envelope);
    expect((next.events[0] as { head: ResponseHead }).head.headers).toEqual(head().headers);
  });
});
