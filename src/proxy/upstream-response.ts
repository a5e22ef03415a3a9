import type { Dispatcher } from 'undici';
import type { Controller, ForwardOutcome, ResponseHandler } from './chain.js';
import { copyResponseHeaders, removeHeader } from './response-headers.js';
import { ClientGoneError, UpstreamFailure, UpstreamStatusError } from './upstream-errors.js';

/**
 * Where undici hands the response to the chain: the final head parsed once (byte-preserving, hop-by-hop
 * removed), statuses the shim cannot pass on refused, transport failures classified once, and what the
 * log line needs of the exchange counted.
 */
export class UpstreamResponse implements Dispatcher.DispatchHandler {
  readonly #inner: ResponseHandler;
  readonly #outcome: ForwardOutcome;
  readonly #upstreamHost: string;
  readonly #onHead: (status: number) => void;

  constructor(inner: ResponseHandler, outcome: ForwardOutcome, upstreamHost: string, onHead: (status: number) => void) {
    this.#inner = inner;
    this.#outcome = outcome;
    this.#upstreamHost = upstreamHost;
    this.#onHead = onHead;
  }

  onRequestStart(controller: Controller, context: unknown): void {
    this.#inner.onRequestStart(controller, context);
  }

  onBodySent(chunk: Buffer): void {
    this.#outcome.bytesIn += chunk.length;
  }

  onResponseStart(controller: Controller, statusCode: number): void {
    // Interim responses (102 Processing, 103 Early Hints) precede the final one (RFC 9110 §15.2):
    // written to the client they became its final response (issue 15, item 5). undici itself
    // refuses an unsolicited 100 by closing the connection ("bad response" → 502).
    if (statusCode >= 100 && statusCode < 200 && statusCode !== 101) return;
    if (statusCode === 101 || statusCode < 100 || statusCode > 599) {
      controller.abort(new UpstreamStatusError(statusCode));
      return;
    }
    const head = copyResponseHeaders((controller.rawHeaders ?? []) as Array<Buffer | string>);
    // A 204 has no content and must not claim any (RFC 9110 §8.6); a 304's length describes the
    // stored representation and stays. Neither body is ever written: undici does not read one.
    if (statusCode === 204 && head.contentLength !== undefined) removeHeader(head.headers, 'content-length');
    this.#outcome.reachedUpstream = true;
    this.#outcome.requestId = head.requestId;
    this.#onHead(statusCode);
    this.#inner.onResponseStart(controller, statusCode, head);
  }

  onResponseData(controller: Controller, chunk: Buffer): void {
    this.#inner.onResponseData(controller, chunk);
  }

  onResponseEnd(controller: Controller): void {
    this.#inner.onResponseEnd(controller);
  }

  onResponseError(controller: Controller, err: Error): void {
    this.#inner.onResponseError(
      controller,
      err instanceof ClientGoneError ? err : new UpstreamFailure(err, this.#upstreamHost),
    );
  }
}
