import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { sseEvents } from '../../src/demo/fake-anthropic.js';
import { ModelLabels } from '../../src/telemetry/model-label.js';
import { JsonUsageCollector, MAX_SSE_LINE_BYTES, SseUsageScanner } from '../../src/telemetry/usage-parse.js';

const STREAM = sseEvents('claude-sonnet-4-5', ['Hello', ' world']).join('');
const EXPECTED = { input: 12, output: 7, cacheRead: 3, cacheCreation: 2 };

function scan(chunks: Buffer[]): ReturnType<SseUsageScanner['finish']> {
  const s = new SseUsageScanner();
  for (const c of chunks) s.push(c);
  return s.finish();
}

/** Splits `buf` at the given offsets. */
function split(buf: Buffer, cuts: number[]): Buffer[] {
  const points = [...new Set(cuts.map((c) => c % (buf.length + 1)))].sort((a, b) => a - b);
  const out: Buffer[] = [];
  let prev = 0;
  for (const p of points) {
    out.push(buf.subarray(prev, p));
    prev = p;
  }
  out.push(buf.subarray(prev));
  return out;
}

describe('SseUsageScanner', () => {
  it('reads message_start usage and the cumulative message_delta output', () => {
    const r = scan([Buffer.from(STREAM)]);
    expect(r.usage).toEqual(EXPECTED);
    expect(r.model).toBe('claude-sonnet-4-5');
    expect(r.problem).toBeUndefined();
  });

  it('gives the same answer however the stream is cut into chunks (LF and CRLF)', () => {
    const lf = Buffer.from(STREAM);
    const crlf = Buffer.from(STREAM.replaceAll('\n', '\r\n'));
    fc.assert(
      fc.property(fc.boolean(), fc.array(fc.nat(), { maxLength: 40 }), (useCrlf, cuts) => {
        const r = scan(split(useCrlf ? crlf : lf, cuts));
        expect(r.usage).toEqual(EXPECTED);
        expect(r.model).toBe('claude-sonnet-4-5');
      }),
      { numRuns: 300 },
    );
  });

  it('one byte at a time', () => {
    const buf = Buffer.from(STREAM.replaceAll('\n', '\r\n'));
    const chunks = [...buf].map((b) => Buffer.from([b]));
    expect(scan(chunks).usage).toEqual(EXPECTED);
  });

  it('never modifies the chunks it reads', () => {
    const buf = Buffer.from(STREAM);
    const copy = Buffer.from(buf);
    scan(split(buf, [3, 50, 51, 400]));
    expect(buf.equals(copy)).toBe(true);
  });

  it('skips huge text deltas without holding them, and still finds the usage after them', () => {
    const big = 'x'.repeat(MAX_SSE_LINE_BYTES * 3);
    const stream = Buffer.from(sseEvents('claude-opus-4-1', [big]).join(''));
    const r = scan(
      split(
        stream,
        Array.from({ length: 40 }, (_, i) => i * 5000),
      ),
    );
    expect(r.usage).toEqual(EXPECTED);
    expect(r.model).toBe('claude-opus-4-1');
  });

  it('counts what arrived before a stream was cut (message_start only)', () => {
    const first = sseEvents('m', ['a'])[0] as string;
    const r = scan([Buffer.from(first), Buffer.from('event: content_block_delta\ndata: {"type":"cont')]);
    expect(r.usage).toEqual({ input: 12, output: 1, cacheRead: 3, cacheCreation: 2 });
  });

  it('reads events that have no event: line by their data type', () => {
    const r = scan([Buffer.from('data: {"type":"message_delta","usage":{"output_tokens":5}}\n\n')]);
    expect(r.usage).toEqual({ output: 5 });
  });

  it('reports an unreadable message_start', () => {
    expect(scan([Buffer.from('event: message_start\ndata: {not json\n\n')]).problem).toBe('unparseable');
  });

  it('ignores non-Anthropic streams', () => {
    const r = scan([Buffer.from(': comment\nid: 1\nretry: 10\nevent: ping\ndata: {}\n\n')]);
    expect(r.usage).toEqual({});
    expect(r.problem).toBeUndefined();
  });
});

describe('JsonUsageCollector', () => {
  it('reads usage and model from a message body split in chunks', () => {
    const body = Buffer.from(
      JSON.stringify({
        type: 'message',
        model: 'claude-haiku-4-5',
        usage: { input_tokens: 5, output_tokens: 9, cache_read_input_tokens: 0 },
      }),
    );
    const c = new JsonUsageCollector();
    for (const part of split(body, [1, 17, 40])) c.push(part);
    expect(c.finish()).toEqual({ usage: { input: 5, output: 9, cacheRead: 0 }, model: 'claude-haiku-4-5' });
  });

  it('counts nothing past the cap and says so', () => {
    const c = new JsonUsageCollector(10);
    c.push(Buffer.from('{"usage":{"input_tokens":1}}'));
    expect(c.finish()).toEqual({ usage: {}, model: undefined, problem: 'too_large' });
  });

  it('ignores bodies without usage (count_tokens, models)', () => {
    const c = new JsonUsageCollector();
    c.push(Buffer.from('{"input_tokens":42}'));
    expect(c.finish().usage).toEqual({});
  });

  it('ignores malformed usage fields', () => {
    const c = new JsonUsageCollector();
    c.push(Buffer.from('{"usage":{"input_tokens":-1,"output_tokens":"7","cache_read_input_tokens":1.5}}'));
    expect(c.finish().usage).toEqual({});
  });
});

describe('ModelLabels', () => {
  it('keeps the first N models, then says other', () => {
    const m = new ModelLabels(2);
    expect(m.label('claude-a')).toBe('claude-a');
    expect(m.label('Claude-B')).toBe('claude-b');
    expect(m.label('claude-c')).toBe('other');
    expect(m.label('claude-a')).toBe('claude-a');
  });

  it('makes any value a safe, short label and never a secret', () => {
    const m = new ModelLabels();
    expect(m.label('anthropic/claude-3-5-sonnet@20240620')).toBe('anthropic_claude-3-5-sonnet_20240620');
    expect(m.label('x'.repeat(500))).toHaveLength(64);
    expect(m.label('sk-ant-oat01-abc')).toBe('other');
    expect(m.label(undefined)).toBe('unknown');
    expect(m.label('a"}b')).toBe('a__b');
  });
});
