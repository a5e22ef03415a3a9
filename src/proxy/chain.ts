import type { Dispatcher } from 'undici';
import type { ResponseHead, ResponseTap } from '../vocabulary/response.js';
import type { ErrorKind } from './errors.js';

export type Controller = Dispatcher.DispatchController;

/**
 * One link of the forward chain: undici's controller-style `DispatchHandler` (issue 16, item 3), except that
 * `onResponseStart` receives the response head parsed once, byte-preserving, by `upstream-response.ts`.
 * undici's own header object is lower-cased and merged; the shim must write what the upstream sent.
 */
export interface ResponseHandler {
  onRequestStart(controller: Controller, context: unknown): void;
  onResponseStart(controller: Controller, statusCode: number, head: ResponseHead): void;
  onResponseData(controller: Controller, chunk: Buffer): void;
  onResponseEnd(controller: Controller): void;
  onResponseError(controller: Controller, err: Error): void;
}

/**
 * Passes every event to the next link unchanged; a decorator overrides what it is about (the shape of
 * undici's `DecoratorHandler`).
 */
export class Decorator implements ResponseHandler {
  protected readonly inner: ResponseHandler;

  constructor(inner: ResponseHandler) {
    this.inner = inner;
  }

  onRequestStart(controller: Controller, context: unknown): void {
    this.inner.onRequestStart(controller, context);
  }

  onResponseStart(controller: Controller, statusCode: number, head: ResponseHead): void {
    this.inner.onResponseStart(controller, statusCode, head);
  }

  onResponseData(controller: Controller, chunk: Buffer): void {
    this.inner.onResponseData(controller, chunk);
  }

  onResponseEnd(controller: Controller): void {
    this.inner.onResponseEnd(controller);
  }

  onResponseError(controller: Controller, err: Error): void {
    this.inner.onResponseError(controller, err);
  }
}

/** What the exchange reports back to the request's owner, once, when it is over; links annotate it. */
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

export function newOutcome(): ForwardOutcome {
  return {
    status: 0,
    bytesIn: 0,
    bytesOut: 0,
    requestId: undefined,
    error: undefined,
    cause: undefined,
    reachedUpstream: false,
    unwrapped: false,
  };
}

/** What a decorator may know of its exchange. */
export interface Exchange {
  readonly method: string | undefined;
  /** Masks the shim's own credential values (KnownSecrets.mask). */
  readonly mask: (text: string) => string;
  readonly tap: ResponseTap | undefined;
  readonly outcome: ForwardOutcome;
}

/** Builds one decorator around the next link; `forward-chain.ts` lists them in order. */
export type DecoratorFactory = (inner: ResponseHandler, exchange: Exchange) => ResponseHandler;

/**
 * The controller handed on with bytes replayed after the upstream response ended (a held-back body):
 * there is nothing left to pause or abort.
 */
export const ENDED: Controller = {
  aborted: false,
  paused: false,
  reason: null,
  abort: () => undefined,
  pause: () => undefined,
  resume: () => undefined,
};
