import type { ResponseHead } from '../vocabulary/response.js';
import { type Controller, Decorator, type DecoratorFactory } from './chain.js';
import { errorEvent } from './errors.js';
import { UpstreamFailure } from './upstream-errors.js';

/**
 * Ends a cut event stream the way Anthropic fails one after 200: an `event: error` the SDK raises, instead
 * of silently stopping (a bare `data: {"error":…}` chunk is swallowed by its iterator). Only on an event
 * boundary — an event appended mid-event would corrupt the one in flight — so it remembers the last four
 * bytes written.
 */
export class SseTerminator {
  #tail = 0;
  #written = 0;

  /** Records a chunk written to the client. */
  track(chunk: Buffer): void {
    const n = chunk.length;
    if (n === 0) return;
    if (n >= 4) this.#tail = chunk.readUInt32BE(n - 4);
    else for (const b of chunk) this.#tail = ((this.#tail << 8) | b) >>> 0;
    this.#written += n;
  }

  /** An SSE event ends with a blank line: "\n\n" or "\r\n\r\n" (WHATWG HTML §9.2.6); nothing written yet counts too. */
  atEventBoundary(): boolean {
    return (this.#tail & 0xffff) === 0x0a0a || this.#tail === 0x0d0a0d0a || this.#written === 0;
  }

  /** The closing event, or `undefined` when the stream sits mid-event and must be cut instead. */
  closing(type: string, message: string): string | undefined {
    return this.atEventBoundary() ? errorEvent(type, message) : undefined;
  }
}

/**
 * The forward chain's link that ends a cut event stream with `event: error` (an open-ended
 * `text/event-stream` response only: a length-framed body cannot take appended bytes).
 */
class SseErrorEnding extends Decorator {
  #tracker: SseTerminator | undefined;

  override onResponseStart(controller: Controller, statusCode: number, head: ResponseHead): void {
    if (head.contentType.startsWith('text/event-stream') && head.contentLength === undefined)
      this.#tracker = new SseTerminator();
    this.inner.onResponseStart(controller, statusCode, head);
  }

  override onResponseData(controller: Controller, chunk: Buffer): void {
    this.#tracker?.track(chunk);
    this.inner.onResponseData(controller, chunk);
  }

  override onResponseError(controller: Controller, err: Error): void {
    if (this.#tracker !== undefined && err instanceof UpstreamFailure)
      err.ending = this.#tracker.closing(err.kind.type, err.message);
    this.inner.onResponseError(controller, err);
  }
}

export const sseErrorEnding: DecoratorFactory = (inner) => new SseErrorEnding(inner);
