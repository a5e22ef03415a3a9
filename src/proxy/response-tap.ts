import type { ResponseHead, ResponseTap } from '../vocabulary/response.js';
import { type Controller, Decorator, type DecoratorFactory, type ResponseHandler } from './chain.js';

/**
 * The forward chain's link that shows an observer (telemetry's usage tap, wired by the composition root)
 * the upstream's head and the very Buffers that pass, before any other link rewrites them; it never
 * changes or holds anything.
 */
class TapResponse extends Decorator {
  readonly #tap: ResponseTap;

  constructor(inner: ResponseHandler, tap: ResponseTap) {
    super(inner);
    this.#tap = tap;
  }

  override onResponseStart(controller: Controller, statusCode: number, head: ResponseHead): void {
    this.#tap.headers(head, statusCode);
    this.inner.onResponseStart(controller, statusCode, head);
  }

  override onResponseData(controller: Controller, chunk: Buffer): void {
    this.#tap.data(chunk);
    this.inner.onResponseData(controller, chunk);
  }
}

export const tapResponse: DecoratorFactory = (inner, exchange) =>
  exchange.tap === undefined ? inner : new TapResponse(inner, exchange.tap);
