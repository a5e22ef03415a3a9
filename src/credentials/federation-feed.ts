import type { Logger } from 'pino';
import { backoffDelay } from './backoff.js';
import type { CredentialFeed, CredentialStore } from './store.js';
import { type ExchangeOutcome, type ExchangeResult, type ExchangeSettings, exchangeToken } from './token-exchange.js';

export interface FederationEvents {
  /** Every exchange that was attempted, with how long it took. */
  onExchange?(result: ExchangeResult, seconds: number): void;
  /** A new federated token is in use. */
  onToken?(expiresAt: Date): void;
}

export interface FederationFeedOptions {
  readonly settings: ExchangeSettings;
  /**
   * The header the LiteLLM key goes in when the token endpoint is behind LiteLLM; the exchange then waits
   * for the key. `undefined`: the endpoint is elsewhere, and the key is never sent there.
   */
  readonly litellmKeyHeader: string | undefined;
  /** How the slot is named in messages (`Workload Identity Federation (fdrl_…)`). */
  readonly source: string;
  readonly log: Logger;
  readonly events?: FederationEvents;
  readonly backoffInitialMs?: number;
  readonly backoffMaxMs?: number;
  /** Least time between two exchanges that upstream 401s trigger (a 401 on every new token must not loop). */
  readonly unauthorizedIntervalMs?: number;
  /** While the LiteLLM key has not loaded: how often to look again (no exchange is sent meanwhile). */
  readonly keyWaitMs?: number;
}

/** The credential feed of Workload Identity Federation, with what the proxy and readiness need besides. */
export interface FederationFeed extends CredentialFeed {
  /**
   * The upstream answered 401 to a request that carried `token`: exchange early, once. A burst of 401s on
   * one token makes one exchange; 401s on a token already replaced make none.
   */
  unauthorized(token: string): void;
  /** When the token held has expired (no valid one is left): why, with the last exchange's problem. */
  expiredReason(now: number): string | undefined;
}

/** Refresh margin: half the lifetime, at most five minutes (see `refreshDelay`). */
const MAX_REFRESH_MARGIN_MS = 5 * 60_000;
const MIN_REFRESH_DELAY_MS = 100;
const MAX_REFRESH_DELAY_MS = 24 * 3_600_000;

/**
 * When to exchange again after a token of `lifetimeMs` arrived: when half its lifetime or five minutes are
 * left, whichever is less. A 1 h token is exchanged at 55 min — after the kubelet has rotated a 1 h projected
 * JWT (it does at 80 %, 48 min), so an issuer that accepts each JWT once never sees one twice — with five
 * minutes of retries before it lapses; a 3 s test token at 1.5 s; a 24 h token 5 min before its end.
 */
export function refreshDelay(lifetimeMs: number): number {
  const delay = lifetimeMs - Math.min(MAX_REFRESH_MARGIN_MS, lifetimeMs / 2);
  // Anthropic grants 60 s to 24 h. Bounded on both sides: a timer past 2^31 ms fires at once (a loop of
  // exchanges), and an absurdly short token must not make one either.
  return Math.min(MAX_REFRESH_DELAY_MS, Math.max(MIN_REFRESH_DELAY_MS, delay));
}

/**
 * Workload Identity Federation as a credential feed (issue 17): fills the store's OAuth slot with tokens
 * exchanged for the pod's identity token. The first exchange is tried before `start` resolves (one attempt,
 * bounded by the exchange timeout; the listeners start whatever it gives), then the feed refreshes in the
 * background at `refreshDelay`, retries failures with capped, jittered backoff (while the token is still
 * valid and after), and shares one exchange between every caller. It needs the store's LiteLLM key when the
 * endpoint is behind LiteLLM, so it starts after the feed that delivers that key.
 */
export function federationFeed(opts: FederationFeedOptions): FederationFeed {
  const { settings, log, source } = opts;
  const initialMs = opts.backoffInitialMs ?? 1_000;
  const maxMs = opts.backoffMaxMs ?? 30_000;
  const unauthorizedIntervalMs = opts.unauthorizedIntervalMs ?? 30_000;
  const keyWaitMs = opts.keyWaitMs ?? 1_000;
  let store: CredentialStore | undefined;
  let token: { value: string; expiresAt: Date } | undefined;
  let problem: string | undefined;
  let failures = 0;
  let inflight: Promise<void> | undefined;
  let abort: AbortController | undefined;
  let timer: NodeJS.Timeout | undefined;
  let lastUnauthorizedExchange = Number.NEGATIVE_INFINITY;
  let stopped = false;

  function schedule(delayMs: number): void {
    if (stopped) return;
    clearTimeout(timer);
    timer = setTimeout(() => void exchange(), delayMs);
    timer.unref();
  }

  /** One exchange at a time; callers that arrive meanwhile share it. Never rejects: a bug is retried, not fatal. */
  function exchange(): Promise<void> {
    inflight ??= attempt()
      .catch((err: unknown) => {
        failures++;
        fail(`internal error during the exchange (${(err as Error).name})`);
        log.error({ event: 'federation_exchange', err }, 'token exchange failed unexpectedly');
        schedule(backoffDelay(failures, initialMs, maxMs));
      })
      .finally(() => {
        inflight = undefined;
      });
    return inflight;
  }

  async function attempt(): Promise<void> {
    if (stopped || store === undefined) return;
    clearTimeout(timer);
    const headers: Record<string, string> = {};
    if (opts.litellmKeyHeader !== undefined) {
      const key = store.snapshot().litellmKey;
      if (key === undefined) {
        fail(`waiting for the LiteLLM key the token endpoint needs (it goes through LiteLLM)`);
        schedule(keyWaitMs);
        return;
      }
      headers[opts.litellmKeyHeader] = key;
    }
    abort = new AbortController();
    const started = performance.now();
    const outcome = await exchangeToken(settings, headers, abort.signal);
    if (stopped) return;
    opts.events?.onExchange?.(outcome.result, (performance.now() - started) / 1000);
    if (outcome.ok) succeed(outcome);
    else {
      failures++;
      const delay = backoffDelay(failures, initialMs, maxMs);
      fail(outcome.problem);
      log.warn(
        {
          event: 'federation_exchange',
          result: outcome.result,
          status: outcome.status,
          failures,
          retry_in_ms: delay,
          token_valid_for_ms: token === undefined ? undefined : Math.max(0, token.expiresAt.getTime() - Date.now()),
        },
        `token exchange failed: ${outcome.problem}`,
      );
      schedule(delay);
    }
  }

  function succeed(outcome: ExchangeOutcome & { ok: true }): void {
    failures = 0;
    problem = undefined;
    token = { value: outcome.accessToken, expiresAt: outcome.expiresAt };
    store?.note('oauth', undefined);
    store?.apply(new Map([['oauth', { ok: true, value: outcome.accessToken, expiresAt: outcome.expiresAt }]]));
    opts.events?.onToken?.(outcome.expiresAt);
    const lifetimeMs = outcome.expiresAt.getTime() - Date.now();
    const delay = refreshDelay(lifetimeMs);
    log.info(
      {
        event: 'federation_exchange',
        result: 'success',
        expires_in_s: outcome.expiresIn,
        expires_at: outcome.expiresAt.toISOString(),
        refresh_in_ms: Math.round(delay),
      },
      'federated token obtained',
    );
    schedule(delay);
  }

  function fail(why: string): void {
    problem = why;
    // Until a token has loaded, readiness and refusals name this problem.
    if (token === undefined) store?.note('oauth', why);
  }

  return {
    async start(s) {
      store = s;
      await exchange();
    },
    refresh: exchange,
    stop() {
      stopped = true;
      clearTimeout(timer);
      abort?.abort();
    },
    unauthorized(used) {
      if (stopped || token?.value !== used || inflight !== undefined) return;
      const now = Date.now();
      if (now - lastUnauthorizedExchange < unauthorizedIntervalMs) return;
      lastUnauthorizedExchange = now;
      log.info(
        { event: 'federation_unauthorized' },
        'the upstream refused the federated token (401); exchanging early',
      );
      void exchange();
    },
    expiredReason(now) {
      if (token === undefined || token.expiresAt.getTime() > now) return undefined;
      const last = problem === undefined ? '' : `; last exchange: ${problem}`;
      return `${source}: the federated token expired at ${token.expiresAt.toISOString()}${last}`;
    },
  };
}
