import { describe, expect, it } from 'vitest';
import { ERRORS } from '../../src/proxy/errors.js';
import { sseErrorEnding } from '../../src/proxy/sse-terminator.js';
import { ClientGoneError, UpstreamFailure } from '../../src/proxy/upstream-errors.js';
import { controller, exchange, head, Recorder } from './_chain.js';

const sse = head({ contentType: 'text/event-stream', contentLength: undefined, headers: [] });
const reset = (): UpstreamFailure =>
  new UpstreamFailure(Object.assign(new Error('other side closed'), { code: 'UND_ERR_SOCKET' }), 'litellm:4000');

/** Head, the chunks, then the upstream failing; the error the next link got. */
function cut(h: typeof sse, chunks: readonly string[], err: Error = reset()): Error {
  const next = new Recorder();
  const link = sseErrorEnding(next, exchange());
  const c = controller();
  link.onResponseStart(c, 200, h);
  for (const ch of chunks) link.onResponseData(c, Buffer.from(ch));
  link.onResponseError(c, err);
  const last = next.events.at(-1);
  if (last?.on !== 'error') throw new Error('the error was not passed on');
  return last.err;
}

describe('sseErrorEnding: the chain link', () => {
  it('a stream cut on an event boundary gets event: error to end with', () => {
    const err = cut(sse, ['event: ping\ndata: {}\n', '\n']) as UpstreamFailure;
    expect(err.kind).toBe(ERRORS.upstreamReset);
    expect(err.ending).toMatch(/^event: error\ndata: /);
    expect(JSON.parse((err.ending as string).split('data: ')[1] as string)).toMatchObject({
      type: 'error',
      error: { type: 'api_error', message: err.message },
    });
  });

  it('mid-event: no ending, the core cuts the connection', () => {
    expect((cut(sse, ['event: content_block_delta\ndata: {"a"']) as UpstreamFailure).ending).toBeUndefined();
  });

  it('a length-framed stream or a JSON body never gets appended bytes', () => {
    expect((cut({ ...sse, contentLength: 100 }, ['data: {}\n\n']) as UpstreamFailure).ending).toBeUndefined();
    expect((cut(head(), ['{}']) as UpstreamFailure).ending).toBeUndefined();
  });

  it('the client leaving is passed on as it is', () => {
    const gone = new ClientGoneError();
    expect(cut(sse, ['data: {}\n\n'], gone)).toBe(gone);
  });
});
