import type { ResponseHead } from '../vocabulary/response.js';
import {
  type Controller,
  Decorator,
  type DecoratorFactory,
  ENDED,
  type Exchange,
  type ResponseHandler,
} from './chain.js';
import { setHeader } from './response-headers.js';

/** Error bodies larger than this are never held back (an error the shim rewrites is a few hundred bytes). */
export const MAX_HELD_BYTES = 64 * 1024;

/**
 * Only small error bodies are held back: to mask the shim's own credentials an upstream echoes (issue 15,
 * item 9), and to un-wrap an old LiteLLM's envelope. Success bodies and streams pass untouched.
 */
export function holdsBack(status: number, head: ResponseHead, method: string | undefined): boolean {
  return (
    status >= 400 &&
    !head.contentType.startsWith('text/event-stream') &&
    (head.contentEncoding === '' || head.contentEncoding === 'identity') &&
    (head.contentLength === undefined || head.contentLength <= MAX_HELD_BYTES) &&
    method !== 'HEAD'
  );
}

/** A held-back body as the next link gets it. */
export interface HeldRewrite {
  readonly head: ResponseHead;
  readonly body: Buffer;
}

/**
 * A decorator that holds a small error body back until its end, then passes on its rewrite: head, the
 * whole body, end. A body that outgrows `MAX_HELD_BYTES` is passed on unchanged as it comes.
 */
export abstract class HeldBody extends Decorator {
  protected readonly exchange: Exchange;
  #chunks: Buffer[] | undefined;
  #held = 0;
  #status = 0;
  #head: ResponseHead | undefined;

  constructor(inner: ResponseHandler, exchange: Exchange) {
    super(inner);
    this.exchange = exchange;
  }

  protected holds(status: number, head: ResponseHead): boolean {
    return holdsBack(status, head, this.exchange.method);
  }

  protected abstract rewrite(status: number, head: ResponseHead, body: Buffer): HeldRewrite;

  override onResponseStart(controller: Controller, statusCode: number, head: ResponseHead): void {
    if (!this.holds(statusCode, head)) {
      this.inner.onResponseStart(controller, statusCode, head);
      return;
    }
    this.#chunks = [];
    this.#status = statusCode;
    this.#head = head;
  }

  override onResponseData(controller: Controller, chunk: Buffer): void {
    const chunks = this.#chunks;
    if (chunks === undefined) {
      this.inner.onResponseData(controller, chunk);
      return;
    }
    chunks.push(chunk);
    this.#held += chunk.length;
    if (this.#held <= MAX_HELD_BYTES) return;
    // Too big to be an error the shim rewrites: stream it unchanged.
    this.#chunks = undefined;
    this.inner.onResponseStart(controller, this.#status, this.#head as ResponseHead);
    for (const c of chunks) this.inner.onResponseData(controller, c);
  }

  override onResponseEnd(controller: Controller): void {
    const chunks = this.#chunks;
    if (chunks !== undefined) {
      this.#chunks = undefined;
      const r = this.rewrite(this.#status, this.#head as ResponseHead, Buffer.concat(chunks));
      this.inner.onResponseStart(controller, this.#status, r.head);
      this.inner.onResponseData(ENDED, r.body);
    }
    this.inner.onResponseEnd(controller);
  }
}

/**
 * A held-back error body with the shim's credential values masked; unchanged bytes keep the upstream's
 * head as it was.
 */
export function rewriteHeldBody(head: ResponseHead, raw: Buffer, mask: (text: string) => string): HeldRewrite {
  const text = raw.toString('latin1');
  const masked = mask(text);
  if (masked === text) return { head, body: raw };
  const body = Buffer.from(masked, 'latin1');
  const headers = [...head.headers];
  setHeader(headers, 'content-length', String(body.length));
  return { head: { ...head, headers, contentLength: body.length }, body };
}

/** Masks the shim's own credential values in small error bodies (an upstream may echo a key it refused). */
class MaskHeldErrorBody extends HeldBody {
  protected rewrite(_status: number, head: ResponseHead, body: Buffer): HeldRewrite {
    return rewriteHeldBody(head, body, this.exchange.mask);
  }
}

export const maskHeldErrorBody: DecoratorFactory = (inner, exchange) => new MaskHeldErrorBody(inner, exchange);
