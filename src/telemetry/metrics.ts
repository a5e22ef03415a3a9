import { Counter, Gauge, Histogram, collectDefaultMetrics, type Registry } from 'prom-client';
import { FederationMetrics } from './federation-metrics.js';
import { RateLimitMetrics } from './ratelimit.js';
import { UsageMetrics } from './usage-metrics.js';
import { WebhookMetrics } from './webhook-metrics.js';

/**
 * Latency buckets in seconds. prom-client's defaults stop at 10 s; a long generation takes minutes,
 * so these reach 10 minutes (the default upstream headers timeout).
 */
export const LATENCY_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600];

/**
 * Every metric the proxy exports, registered on the registry passed in (never the global one).
 * Labels are bounded sets chosen by the shim — never a value from a request header or path.
 */
export class ProxyMetrics {
  readonly requests: Counter<'code' | 'credential'>;
  readonly duration: Histogram<never>;
  readonly firstByte: Histogram<never>;
  readonly inflight: Gauge<never>;
  readonly maxInflight: Gauge<never>;
  readonly upstreamErrors: Counter<'reason'>;
  readonly rejected: Counter<'reason'>;
  readonly credentialReloads: Counter<'slot' | 'result'>;
  readonly credentialLastLoad: Gauge<'slot'>;
  readonly credentialGeneration: Gauge<never>;
  readonly credentialExpiry: Gauge<'slot'>;
  readonly credentialExpiresIn: Gauge<'slot'>;
  #oauthExpiresAtMs: number | undefined;
  /** Token usage read from responses (usage-tap.ts). */
  readonly usage: UsageMetrics;
  /** Anthropic's rate-limit headers as gauges (ratelimit.ts). */
  readonly rateLimits: RateLimitMetrics;
  /** Workload Identity Federation's exchanges and token (federation-metrics.ts), only when it is on. */
  readonly federation: FederationMetrics | undefined;

  constructor(registry: Registry, options: { defaultMetrics?: boolean; federation?: boolean } = {}) {
    const registers = [registry];
    this.requests = new Counter({
      name: 'auth_shim_requests_total',
      help: 'Requests answered, by HTTP status code and the kind of credential forwarded (oauth, api-key, none).',
      labelNames: ['code', 'credential'],
      registers,
    });
    this.duration = new Histogram({
      name: 'auth_shim_request_duration_seconds',
      help: 'Time from receiving a request to the end of its response, streams included.',
      buckets: LATENCY_BUCKETS,
      registers,
    });
    this.firstByte = new Histogram({
      name: 'auth_shim_upstream_first_byte_seconds',
      help: 'Time from receiving a request to the upstream response headers.',
      buckets: LATENCY_BUCKETS,
      registers,
    });
    this.inflight = new Gauge({ name: 'auth_shim_inflight_requests', help: 'Requests being proxied now.', registers });
    this.maxInflight = new Gauge({
      name: 'auth_shim_inflight_requests_limit',
      help: 'AUTH_SHIM_MAX_INFLIGHT_REQUESTS in effect (0: no limit); requests over it are answered 429, counted in auth_shim_rejected_requests_total{reason="too_many_inflight_requests"}.',
      registers,
    });
    this.upstreamErrors = new Counter({
      name: 'auth_shim_upstream_errors_total',
      help: 'Upstream transport failures, by reason (unreachable, timeouts, resets, protocol errors, streams cut).',
      labelNames: ['reason'],
      registers,
    });
    this.rejected = new Counter({
      name: 'auth_shim_rejected_requests_total',
      help: 'Requests the shim answered itself without forwarding, by reason.',
      labelNames: ['reason'],
      registers,
    });
    this.credentialReloads = new Counter({
      name: 'auth_shim_credential_reloads_total',
      help: 'Credential reads, by slot and result (loaded, unchanged, invalid, missing, error; held: valid but not applied because another value of the same Secret was rejected).',
      labelNames: ['slot', 'result'],
      registers,
    });
    this.credentialLastLoad = new Gauge({
      name: 'auth_shim_credential_last_load_timestamp_seconds',
      help: 'Unix time a new credential value was last loaded, by slot.',
      labelNames: ['slot'],
      registers,
    });
    this.credentialGeneration = new Gauge({
      name: 'auth_shim_credential_generation',
      help: 'Increments every time the set of credentials in use changes.',
      registers,
    });
    // Labelled so that no sample exists until the expiry is known: an unlabelled gauge would read
    // 0 ("expired in 1970") and trip every naive expiry alert.
    this.credentialExpiry = new Gauge({
      name: 'auth_shim_oauth_token_expiry_timestamp_seconds',
      help: 'Unix time the OAuth token expires, when known (credentials JSON or AUTH_SHIM_OAUTH_TOKEN_EXPIRES_AT).',
      labelNames: ['slot'],
      registers,
    });
    const expiresAt = (): number | undefined => this.#oauthExpiresAtMs;
    this.credentialExpiresIn = new Gauge({
      name: 'auth_shim_oauth_token_expires_in_seconds',
      help: 'Seconds until the OAuth token expires (negative once expired), when known; computed at scrape time.',
      labelNames: ['slot'],
      registers,
      collect() {
        const at = expiresAt();
        if (at !== undefined) this.set({ slot: 'oauth' }, Math.round((at - Date.now()) / 1000));
      },
    });
    this.usage = new UsageMetrics(registry);
    this.rateLimits = new RateLimitMetrics(registry);
    this.federation = options.federation === true ? new FederationMetrics(registry) : undefined;
    if (options.defaultMetrics ?? true) collectDefaultMetrics({ register: registry, prefix: 'auth_shim_' });
  }

  /** Records when the OAuth token in use expires (both expiry gauges follow it). */
  setOauthExpiry(at: Date): void {
    this.#oauthExpiresAtMs = at.getTime();
    this.credentialExpiry.set({ slot: 'oauth' }, at.getTime() / 1000);
  }
}

/**
 * Every metric family auth-shim declares, by the process that exports it: the sidecar's (its own, token
 * usage in usage-metrics.ts, rate limits in ratelimit.ts, federation in federation-metrics.ts) and the webhook's (webhook-metrics.ts). Nothing
 * else in src/ creates a metric; docs/METRICS.md is generated from this list (`npm run docs`).
 */
export const METRIC_SETS = {
  proxy: (registry: Registry): ProxyMetrics => new ProxyMetrics(registry, { defaultMetrics: false, federation: true }),
  webhook: (registry: Registry): WebhookMetrics => new WebhookMetrics(registry, { defaultMetrics: false }),
} as const;

export type MetricSet = keyof typeof METRIC_SETS;
