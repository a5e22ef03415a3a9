import { describe, expect, it } from 'vitest';
import { SseTerminator } from '../../src/proxy/sse-terminator.js';

function after(...chunks: string[]): SseTerminator {
  const t = new SseTerminator();
  for (const c of chunks) t.track(Buffer.from(c, 'latin1'));
  return t;
}

describe('SseTerminator: event: error only on an event boundary', () => {
  it.each<[string, string[], boolean]>([
    ['nothing written yet', [], true],
    ['after a complete event (\\n\\n)', ['event: ping\ndata: {}\n\n'], true],
    ['after a complete event (\\r\\n\\r\\n)', ['event: ping\r\ndata: {}\r\n\r\n'], true],
    ['mid-event', ['event: content_block_delta\ndata: {"a"'], false],
    ['after one line of an event', ['event: ping\n'], false],
    ['a boundary split across one-byte chunks', ['data: {}', '\n', '\n'], true],
    ['a boundary split 3 + 1', ['data: {}\r\n\r', '\n'], true],
    ['an empty chunk changes nothing', ['data: {}\n\n', ''], true],
  ])('%s → %s', (_name, chunks, boundary) => {
    const t = after(...chunks);
    expect(t.atEventBoundary()).toBe(boundary);
    const closing = t.closing('api_error', 'upstream went away');
    if (boundary) {
      expect(closing).toMatch(/^event: error\ndata: /);
      expect(JSON.parse((closing as string).split('data: ')[1] as string)).toMatchObject({
        type: 'error',
        error: { type: 'api_error', message: 'upstream went away' },
      });
    } else {
      expect(closing).toBeUndefined();
    }
  });
});
