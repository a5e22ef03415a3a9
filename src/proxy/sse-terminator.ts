import { errorEvent } from './errors.js';

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
