/**
 * A response as the proxy hands it to observers (telemetry) — the head it writes and the very bytes it sends.
 * Imports nothing of the project: the proxy produces these, telemetry consumes them, neither knows the other.
 */

export interface ResponseHead {
  /** Flat `[name, value, …]` list in upstream order and case, ready for `writeHead`. */
  readonly headers: string[];
  readonly contentType: string;
  readonly contentLength: number | undefined;
  readonly contentEncoding: string;
  readonly requestId: string | undefined;
}

/** Watches responses without touching them; one tap per response. */
export interface ResponseObserver {
  start(): ResponseTap;
}

export interface ResponseTap {
  headers(head: ResponseHead, status: number): void;
  data(chunk: Buffer): void;
  /** The request's token usage, when the response reported any (for its log line). */
  end(): RequestUsage | undefined;
}

/**
 * One request's usage for its log line: every count present (0 when the response did not say),
 * so a platform team can sum streamed traffic per agent even where LiteLLM books 0 (issue 18).
 */
export interface RequestUsage {
  /** The model the response names (cut to 100 characters), or `unknown`. */
  readonly model: string;
  readonly input: number;
  readonly output: number;
  readonly cacheRead: number;
  readonly cacheCreation: number;
}
