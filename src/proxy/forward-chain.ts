import type { ServerResponse } from 'node:http';
import type { Dispatcher } from 'undici';
import type { ResponseTap } from '../vocabulary/response.js';
import { type DecoratorFactory, type ForwardOutcome, newOutcome, type ResponseHandler } from './chain.js';
import { ConnectRetry } from './connect-retry.js';
import { ForwardCore } from './forward.js';
import { maskHeldErrorBody } from './held-error-body.js';
import { unwrapLitellmEnvelope } from './litellm-envelope.js';
import { tapResponse } from './response-tap.js';
import { sseErrorEnding } from './sse-terminator.js';
import { UpstreamResponse } from './upstream-response.js';

/**
 * The decorators between undici and the byte-moving core, outermost first: each sees what the one before
 * it passes on. The tap sees the upstream's bytes; credential values are masked before an envelope is read;
 * the SSE ending sees exactly what the client was sent.
 */
const DECORATORS: readonly DecoratorFactory[] = [tapResponse, maskHeldErrorBody, unwrapLitellmEnvelope, sseErrorEnding];

export interface ForwardSetup {
  readonly res: ServerResponse;
  readonly method: string | undefined;
  readonly dispatcher: Dispatcher;
  /** Dispatched as they are when `dispatch()` runs (the body may be set after `createForward`). */
  readonly options: Dispatcher.DispatchOptions;
  readonly upstreamHost: string;
  readonly connectRetries: number;
  readonly mask: (text: string) => string;
  readonly tap: ResponseTap | undefined;
  /** The final response head arrived (first-byte timing). */
  readonly onHead: (status: number) => void;
  /** Called once when the exchange is over, however it ended. */
  readonly done: (outcome: ForwardOutcome) => void;
}

export class Forward {
  readonly #retry: ConnectRetry;
  readonly #core: ForwardCore;

  constructor(retry: ConnectRetry, core: ForwardCore) {
    this.#retry = retry;
    this.#core = core;
  }

  dispatch(): void {
    this.#retry.dispatch();
  }

  /** Ends an exchange that was never dispatched (the client left before its request was complete). */
  abandon(): void {
    this.#core.abandon();
  }
}

/** One exchange's chain: connect retry → upstream response → decorators → core. */
export function createForward(s: ForwardSetup): Forward {
  const outcome = newOutcome();
  const core = new ForwardCore(s.res, outcome, s.done);
  const exchange = { method: s.method, mask: s.mask, tap: s.tap, outcome };
  let inner: ResponseHandler = core;
  for (let i = DECORATORS.length - 1; i >= 0; i--) inner = (DECORATORS[i] as DecoratorFactory)(inner, exchange);
  const entry = new UpstreamResponse(inner, outcome, s.upstreamHost, s.onHead);
  return new Forward(new ConnectRetry(entry, s.dispatcher, s.options, s.connectRetries, s.res), core);
}
