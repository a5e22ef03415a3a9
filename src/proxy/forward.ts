import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Dispatcher } from 'undici';
import { errorBody, errorHeaders, type ErrorKind } from './errors.js';
import { holdsBack, rewriteHeldBody } from './held-error-body.js';
import { MAX_ENVELOPE_BYTES } from './litellm-envelope.js';
import { copyResponseHeaders, removeHeader } from './response-headers.js';
import { SseTerminator } from './sse-terminator.js';
import type { ResponseHead } from '../vocabulary/response.js';
import {
  classifyUpstreamError,
  ClientGoneError,
  describeUpstreamError,
  UpstreamStatusError,
} from './upstream-errors.js';

/** What the handler reports back to the request's owner, once, when the exchange is over. */
export interface ForwardOutcome {
  /** Status the client saw (0 if nothing was sent). */
  status: number;
  bytesIn: number;
  bytesOut: number;
  requestId: string | undefined;
  /** Error kind if the shim answered or cut the response itself. */
  error: ErrorKind | undefined;
  /** The upstream failure's own message, for the log line (never contains secrets). */
  cause: string | undefined;
  /** True once upstream response headers arrived (the request reached the upstream). */
  reachedUpstream: boolean;
  unwrapped: boolean;
}

export interface ForwardHooks {
  onHeaders(head: ResponseHead, status: number): void;
  onData?(chunk: Buffer): void;
  /** Called when the connection failed before any byte was sent; return true to retry. */
  retry(err: Error): boolean;
  done(outcome: ForwardOutcome): void;
}

/**
 * An undici dispatch handler that streams one upstream response into the client's response
 * byte for byte: headers as soon as they arrive (SSE needs them flushed), each chunk written as
 * it comes, the upstream paused when the client is slow (backpressure), and the upstream aborted
 * the moment the client leaves — an abandoned generation keeps costing tokens.
 */
export class ForwardHandler implements Dispatcher.DispatchHandler {
  readonly #req: IncomingMessage;
  readonly #res: ServerResponse;
  readonly #hooks: ForwardHooks;
  readonly #upstreamHost: string;
  readonly #mask: (text: string) => string;
  #controller: Dispatcher.DispatchController | undefined;
  #clientGone = false;
  #started = false;
  #finished = false;
  #sse = false;
  #framed = false; // response has Content-Length: we cannot append an error event
  readonly #sseEnd = new SseTerminator();
  #buffer: Buffer[] | undefined;
  #buffered = 0;
  #head: ResponseHead | undefined;
  #status = 0;
  readonly #outcome: ForwardOutcome = {
    status: 0,
    bytesIn: 0,
    bytesOut: 0,
    requestId: undefined,
    error: undefined,
    cause: undefined,
    reachedUpstream: false,
    unwrapped: false,
  };

  constructor(
    req: IncomingMessage,
    res: ServerResponse,
    hooks: ForwardHooks,
    upstreamHost: string,
    mask: (text: string) => string,
  ) {
    this.#mask = mask;
    this.#req = req;
    this.#res = res;
    this.#hooks = hooks;
    this.#upstreamHost = upstreamHost;
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

  onRequestStart(controller: Dispatcher.DispatchController): void {
    this.#started = true;
    this.#controller = controller;
    if (this.#clientGone) controller.abort(new ClientGoneError());
  }

  onBodySent(chunk: Buffer): void {
    this.#outcome.bytesIn += chunk.length;
  }

  onResponseStart(controller: Dispatcher.DispatchController, statusCode: number): void {
    // Interim responses (102 Processing, 103 Early Hints) precede the final one (RFC 9110 §15.2):
    // written to the client they became its final response (issue 15, item 5). undici itself
    // refuses an unsolicited 100 by closing the connection ("bad response" → 502).
    if (statusCode >= 100 && statusCode < 200 && statusCode !== 101) return;
    if (statusCode === 101 || statusCode < 100 || statusCode > 599) {
      controller.abort(new UpstreamStatusError(statusCode));
      return;
    }
    const raw = (controller.rawHeaders ?? []) as Array<Buffer | string>;
    const head = copyResponseHeaders(raw);
    // A 204 has no content and must not claim any (RFC 9110 §8.6); a 304's length describes the
    // stored representation and stays. Neither body is ever written: undici does not read one.
    if (statusCode === 204 && head.contentLength !== undefined) removeHeader(head.headers, 'content-length');
    this.#head = head;
    this.#status = statusCode;
    this.#outcome.reachedUpstream = true;
    this.#outcome.requestId = head.requestId;
    this.#hooks.onHeaders(head, statusCode);

    if (holdsBack(statusCode, head, this.#req.method)) {
      this.#buffer = [];
      return;
    }
    this.#writeHead(statusCode, head.headers);
  }

  #writeHead(status: number, headers: string[]): void {
    if (this.#clientGone) return;
    const head = this.#head as ResponseHead;
    this.#sse = head.contentType.startsWith('text/event-stream');
    this.#framed = head.contentLength !== undefined;
    this.#outcome.status = status;
    this.#res.sendDate = false; // the upstream's Date header passes through
    this.#res.writeHead(status, headers);
    // Send headers now when the body is open-ended: a stream's client waits on them before the
    // first event. A length-framed body comes right behind its head, and Node sends the head
    // with the first chunk: one write (a syscall and a packet) per response instead of two.
    if (!this.#framed) this.#res.flushHeaders();
  }

  onResponseData(controller: Dispatcher.DispatchController, chunk: Buffer): void {
    if (this.#clientGone) return;
    this.#hooks.onData?.(chunk);
    if (this.#buffer !== undefined) {
      this.#buffer.push(chunk);
      this.#buffered += chunk.length;
      if (this.#buffered > MAX_ENVELOPE_BYTES) this.#flushBuffer();
      return;
    }
    this.#write(chunk, controller);
  }

  #write(chunk: Buffer, controller?: Dispatcher.DispatchController): void {
    const n = chunk.length;
    if (n === 0) return;
    if (this.#sse) this.#sseEnd.track(chunk);
    this.#outcome.bytesOut += n;
    if (!this.#res.write(chunk)) controller?.pause();
  }

  /** Gives up holding an error body back (too big to be an envelope): stream it unchanged. */
  #flushBuffer(): void {
    const chunks = this.#buffer ?? [];
    this.#buffer = undefined;
    this.#writeHead(this.#status, (this.#head as ResponseHead).headers);
    for (const c of chunks) this.#write(c, this.#controller);
  }

  onResponseEnd(): void {
    if (this.#buffer !== undefined) {
      const chunks = this.#buffer;
      this.#buffer = undefined;
      this.#endBuffered(Buffer.concat(chunks));
    }
    this.#finish();
    if (!this.#clientGone) this.#res.end();
  }

  #endBuffered(raw: Buffer): void {
    const r = rewriteHeldBody(this.#head as ResponseHead, this.#status, raw, this.#mask);
    if (r.requestId !== undefined) this.#outcome.requestId = r.requestId;
    if (r.unwrapped) this.#outcome.unwrapped = true;
    this.#writeHead(this.#status, r.headers);
    this.#write(r.body);
  }

  onResponseError(_controller: Dispatcher.DispatchController, err: Error): void {
    if (this.#clientGone || err instanceof ClientGoneError) {
      this.#finish();
      return;
    }
    if (!this.#started && !this.#outcome.reachedUpstream && this.#hooks.retry(err)) return;

    const kind = classifyUpstreamError(err);
    const message = describeUpstreamError(kind, err, this.#upstreamHost);
    this.#outcome.error = kind;
    this.#outcome.cause = (err as { code?: string }).code ?? err.name;
    const res = this.#res;
    let event: string | undefined;
    if (!res.headersSent) {
      // Nothing sent yet (or only a held-back error body): a normal Anthropic-shaped error.
      const body = errorBody(kind.type, message);
      this.#outcome.status = kind.status;
      res.writeHead(kind.status, errorHeaders(kind, body));
      res.end(body);
    } else if (this.#sse && !this.#framed && (event = this.#sseEnd.closing(kind.type, message)) !== undefined) {
      this.#outcome.bytesOut += Buffer.byteLength(event);
      res.end(event);
    } else {
      // Mid-event or a framed body: an appended event would corrupt it. Cut the connection so the
      // client sees a failed response, never a truncated one that looks complete.
      res.destroy();
    }
    this.#finish();
  }

  #finish(): void {
    if (this.#finished) return;
    this.#finished = true;
    this.#hooks.done(this.#outcome);
  }
}
