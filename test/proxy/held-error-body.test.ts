import { describe, expect, it } from 'vitest';
import {
  holdsBack,
  MAX_HELD_BYTES as MAX_ENVELOPE_BYTES,
  maskHeldErrorBody,
  rewriteHeldBody,
} from '../../src/proxy/held-error-body.js';
import type { ResponseHead } from '../../src/vocabulary/response.js';
import { exchange, feed, head, Recorder } from './_chain.js';

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
    const r = rewriteHeldBody(h, raw, noMask);
    expect(r.body).toBe(raw);
    expect(r.head.headers).toBe(h.headers);
  });

  it('masks a credential the upstream echoed and fixes content-length', () => {
    const secret = 'sk-litellm-virtual-TESTKEY-0123456789abcdef';
    const raw = Buffer.from(`{"detail":"bad key ${secret}"}`);
    const r = rewriteHeldBody(head({ contentType: 'text/plain' }), raw, (t) => t.replaceAll(secret, '***'));
    expect(r.body.toString()).toBe('{"detail":"bad key ***"}');
    expect(header(r.head.headers, 'content-length')).toBe(String(r.body.length));
    expect(r.head.contentLength).toBe(r.body.length);
  });
});

describe('maskHeldErrorBody: the chain link', () => {
  const secret = 'sk-ant-api03-TESTSECRET';
  const mask = (t: string): string => t.replaceAll(secret, 'sk-ant-***');

  it('holds a small error body back and passes on head, masked body, end', () => {
    const next = new Recorder();
    const link = maskHeldErrorBody(next, exchange({ mask }));
    feed(link, 401, head({ contentLength: undefined, headers: ['content-type', 'application/json'] }), [
      '{"detail":"bad ',
      `key ${secret}"}`,
    ]);
    expect(next.events.map((e) => e.on)).toEqual(['start', 'data', 'end']);
    expect(next.body()).toBe('{"detail":"bad key sk-ant-***"}');
    const start = next.events[0] as { head: ResponseHead };
    expect(header(start.head.headers, 'content-length')).toBe(String(next.body().length));
  });

  it('passes a success through chunk by chunk, untouched', () => {
    const next = new Recorder();
    feed(maskHeldErrorBody(next, exchange({ mask })), 200, head(), [secret, 'b']);
    expect(next.events.map((e) => e.on)).toEqual(['start', 'data', 'data', 'end']);
    expect(next.body()).toBe(`${secret}b`);
  });

  it('gives up holding a body that outgrows the bound and streams it unchanged', () => {
    const next = new Recorder();
    const big = 'x'.repeat(MAX_ENVELOPE_BYTES);
    feed(maskHeldErrorBody(next, exchange({ mask })), 500, head({ contentLength: undefined }), [secret, big, 'tail']);
    expect(next.events.map((e) => e.on)).toEqual(['start', 'data', 'data', 'data', 'end']);
    expect(next.body()).toBe(`${secret}${big}tail`);
  });
});
