import type { Dispatcher } from 'undici';
import { isConnectFailure } from './upstream-errors.js';

type ResponseHeaders = Parameters<NonNullable<Dispatcher.DispatchHandler['onResponseStart']>>[2];

/** The client's response: once it is destroyed, nobody is left to answer. */
export interface ClientSide {
  readonly destroyed: boolean;
}

/**
 * The outermost link of the forward chain, and the one that dispatches it: a connection that failed
 * before undici started writing the request is tried again (100 ms, 200 ms, …), which is safe even for
 * POST — nothing reached the upstream. Anything later is passed on, never retried (invariant 7).
 */
export class ConnectRetry implements Dispatcher.DispatchHandler {
  readonly #inner: Dispatcher.DispatchHandler;
  readonly #dispatcher: Dispatcher;
  readonly #options: Dispatcher.DispatchOptions;
  readonly #retries: number;
  readonly #client: ClientSide;
  #attempts = 0;
  #started = false;

  constructor(
    inner: Dispatcher.DispatchHandler,
    dispatcher: Dispatcher,
    options: Dispatcher.DispatchOptions,
    retries: number,
    client: ClientSide,
  ) {
    this.#inner = inner;
    this.#dispatcher = dispatcher;
    this.#options = options;
    this.#retries = retries;
    this.#client = client;
  }

  /** Sends the request as `options` stand now. */
  dispatch(): void {
    this.#dispatcher.dispatch(this.#options, this);
  }

  onRequestStart(controller: Dispatcher.DispatchController, context: unknown): void {
    this.#started = true;
    this.#inner.onRequestStart?.(controller, context);
  }

  onBodySent(chunk: Buffer): void {
    this.#inner.onBodySent?.(chunk);
  }

  onResponseStart(
    controller: Dispatcher.DispatchController,
    statusCode: number,
    headers: ResponseHeaders,
    statusMessage?: string,
  ): void {
    this.#options.body = null; // sent; no retry from here on, and the body's memory goes
    this.#inner.onResponseStart?.(controller, statusCode, headers, statusMessage);
  }

  onResponseData(controller: Dispatcher.DispatchController, chunk: Buffer): void {
    this.#inner.onResponseData?.(controller, chunk);
  }

  onResponseEnd(controller: Dispatcher.DispatchController, trailers: ResponseHeaders): void {
    this.#inner.onResponseEnd?.(controller, trailers);
  }

  onResponseError(controller: Dispatcher.DispatchController, err: Error): void {
    if (!this.#started && this.#retry(err)) return;
    this.#inner.onResponseError?.(controller, err);
  }

  #retry(err: Error): boolean {
    if (this.#attempts >= this.#retries || !isConnectFailure(err) || this.#client.destroyed) return false;
    this.#attempts++;
    setTimeout(() => this.dispatch(), 100 * this.#attempts).unref();
    return true;
  }
}
