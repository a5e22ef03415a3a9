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
  end(): void;
}
