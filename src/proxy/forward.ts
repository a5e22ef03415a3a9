import type { ServerResponse } from 'node:http';
import type { ResponseHead } from '../vocabulary/response.js';
import type { Controller, ForwardOutcome, ResponseHandler } from './chain.js';
import { errorBody, errorHeaders } from './errors.js';
import { ClientGoneError, type UpstreamFailure } from './upstream-errors.js';

/**
 * The byte-moving core at the end of the forward chain: writes the head it is given (flushed at once when
 * the body is open-ended: SSE needs it), each chunk as it comes, pauses the upstream when the client is
 * slow (backpressure), and aborts the upstream the moment the client leaves — an abandoned generation
 * keeps costing tokens. It never looks into a body; the decorators in `forward-chain.ts` do that.
 */
export class ForwardCore implements ResponseHandler {
  readonly #res: ServerResponse;
  readonly #outcome: ForwardOutcome;
  readonly #done: (outcome: ForwardOutcome) => void;
  #controller: Controller | undefined;
  #clientGone = false;
  #finished = false;

  constructor(res: ServerResponse, outcome: ForwardOutcome, done: (outcome: ForwardOutcome) => void) {
    this.#res = res;
    this.#outcome = outcome;
    this.#done = done;
    res.on('drain', () => this.#controller?.resume());
    res.on('close', () => {
      if (!res.writableFinished) this.#abortUpstream();
    });
  }

  /**
   * Ends an exchange that was never dispatched (the client left before its request was complete):
   * nothing was sent upstream, nothing to the client; the owner hears `done` once, as for any other.
   */
  abandon(): void {
    this.#finish();
  }

  #abortUpstream(): void {
    if (this.#finished) return;
    this.#clientGone = true;
    this.#controller?.abort(new ClientGoneError());
  }

  onRequestStart(controller: Controller): void {
    this.#controller = controller;
    if (this.#clientGone) controller.abort(new ClientGoneError());
  }

  onResponseStart(_controller: Controller, statusCode: number, head: ResponseHead): void {
    if (this.#clientGone) return;
    const framed = head.contentLength !== undefined;
    this.#outcome.status = statusCode;
    this.#res.sendDate = false; // the upstream's Date header passes through
    this.#res.writeHead(statusCode, head.headers);
    // Send headers now when the body is open-ended: a stream's client waits on them before the
    // first event. A length-framed body comes right behind its head, and Node sends the head
    // with the first chunk: one write (a syscall and a packet) per response instead of two.
    if (!framed) this.#res.flushHeaders();
  }

  onResponseData(controller: Controller, chunk: Buffer): void {
    const n = chunk.length;
    if (this.#clientGone || n === 0) return;
    this.#outcome.bytesOut += n;
    if (!this.#res.write(chunk)) controller.pause();
  }

  onResponseEnd(): void {
    this.#finish();
    if (!this.#clientGone) this.#res.end();
  }

  onResponseError(_controller: Controller, err: Error): void {
    if (this.#clientGone || err instanceof ClientGoneError) {
      this.#finish();
      return;
    }
    const failure = err as UpstreamFailure; // upstream-response.ts classifies every other error
    const kind = failure.kind;
    this.#outcome.error = kind;
    this.#outcome.cause = failure.causeCode;
    const res = this.#res;
    if (!res.headersSent) {
      // Nothing sent yet (or only a held-back error body): a normal Anthropic-shaped error.
      const body = errorBody(kind.type, failure.message);
      this.#outcome.status = kind.status;
      res.writeHead(kind.status, errorHeaders(kind, body));
      res.end(body);
    } else if (failure.ending !== undefined) {
      this.#outcome.bytesOut += Buffer.byteLength(failure.ending);
      res.end(failure.ending);
    } else {
      // Mid-event or a framed body: appended bytes would corrupt it. Cut the connection so the
      // client sees a failed response, never a truncated one that looks complete.
      res.destroy();
    }
    this.#finish();
  }

  #finish(): void {
    if (this.#finished) return;
    this.#finished = true;
    this.#done(this.#outcome);
  }
}
