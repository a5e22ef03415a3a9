import { describe, expect, it } from 'vitest';
import { newOutcome } from '../../src/proxy/chain.js';
import { tapResponse } from '../../src/proxy/response-tap.js';
import type { ResponseHead, ResponseTap } from '../../src/vocabulary/response.js';
import { feed, head, Recorder } from './_chain.js';

describe('tapResponse: the chain link', () => {
  it('shows the tap the head and the very Buffers it passes on, before the next link', () => {
    const seen: string[] = [];
    const buffers: Buffer[] = [];
    const next = new Recorder();
    const tap: ResponseTap = {
      headers: (h: ResponseHead, status: number) => seen.push(`head ${status} ${h.contentType}`),
      data: (chunk: Buffer) => {
        buffers.push(chunk);
        seen.push(`data ${chunk.toString()} (next has ${next.events.length})`);
      },
      end: () => undefined,
    };
    const link = tapResponse(next, { method: 'POST', mask: (t) => t, tap, outcome: newOutcome() });
    feed(link, 200, head(), ['{"a"', ':1}']);
    expect(seen).toEqual(['head 200 application/json', 'data {"a" (next has 1)', 'data :1} (next has 2)']);
    expect(next.body()).toBe('{"a":1}');
    expect(buffers.map((b) => b.toString())).toEqual(['{"a"', ':1}']);
  });

  it('no observer, no link', () => {
    const next = new Recorder();
    expect(tapResponse(next, { method: 'POST', mask: (t) => t, tap: undefined, outcome: newOutcome() })).toBe(next);
  });
});
