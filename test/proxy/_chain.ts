import type { Controller, ForwardOutcome, ResponseHandler } from '../../src/proxy/chain.js';
import { newOutcome } from '../../src/proxy/chain.js';
import type { ResponseHead } from '../../src/vocabulary/response.js';

/** What the next link of the forward chain received, in order (the end of a chain under test). */
export type Event =
  | { readonly on: 'start'; readonly status: number; readonly head: ResponseHead }
  | { readonly on: 'data'; readonly chunk: string }
  | { readonly on: 'end' }
  | { readonly on: 'error'; readonly err: Error };

export class Recorder implements ResponseHandler {
  readonly events: Event[] = [];
  onRequestStart(): void {}
  onResponseStart(_c: Controller, status: number, head: ResponseHead): void {
    this.events.push({ on: 'start', status, head });
  }
  onResponseData(_c: Controller, chunk: Buffer): void {
    this.events.push({ on: 'data', chunk: chunk.toString('latin1') });
  }
  onResponseEnd(): void {
    this.events.push({ on: 'end' });
  }
  onResponseError(_c: Controller, err: Error): void {
    this.events.push({ on: 'error', err });
  }
  /** The body the next link was given, joined. */
  body(): string {
    return this.events.map((e) => (e.on === 'data' ? e.chunk : '')).join('');
  }
}

/** A controller that counts pauses (the chain's only use of it besides abort). */
export function controller(): Controller & { pauses: number } {
  return {
    aborted: false,
    paused: false,
    reason: null,
    pauses: 0,
    abort() {},
    pause() {
      this.pauses++;
    },
    resume() {},
  };
}

export function head(over: Partial<ResponseHead> = {}): ResponseHead {
  return {
    headers: ['content-type', 'application/json', 'content-length', '10'],
    contentType: 'application/json',
    contentLength: 10,
    contentEncoding: '',
    requestId: undefined,
    ...over,
  };
}

export function exchange(over: { method?: string; mask?: (t: string) => string } = {}): {
  method: string | undefined;
  mask: (t: string) => string;
  tap: undefined;
  outcome: ForwardOutcome;
} {
  return { method: over.method ?? 'POST', mask: over.mask ?? ((t) => t), tap: undefined, outcome: newOutcome() };
}

/** Feeds one upstream response through a link: head, the chunks, end. */
export function feed(link: ResponseHandler, status: number, h: ResponseHead, chunks: readonly string[]): void {
  const c = controller();
  link.onResponseStart(c, status, h);
  for (const ch of chunks) link.onResponseData(c, Buffer.from(ch, 'latin1'));
  link.onResponseEnd(c);
}
