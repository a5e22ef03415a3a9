import { Counter, Gauge, Histogram, collectDefaultMetrics, type Registry } from 'prom-client';

/** The webhook's metrics, on the registry passed in; labels are fixed sets chosen here. */
export class WebhookMetrics {
  /**
   * decision: injected, skipped, denied, invalid (400), error (500); dry_run: true/false; reason: the skip
   * code (injector/skip-reasons.ts), on `skipped` series only.
   */
  readonly reviews: Counter<'decision' | 'dry_run' | 'reason'>;
  readonly duration: Histogram<never>;
  readonly tlsReloads: Counter<'result'>;
  readonly certExpiry: Gauge<never>;

  constructor(registry: Registry, options: { defaultMetrics?: boolean } = {}) {
    const registers = [registry];
    this.reviews = new Counter({
      name: 'auth_shim_webhook_reviews_total',
      help:
        'AdmissionReviews answered, by decision (injected, skipped, denied, invalid, error) and dry run; ' +
        'skipped ones also by reason (a code from docs/INJECTION.md).',
      labelNames: ['decision', 'dry_run', 'reason'],
      registers,
    });
    this.duration = new Histogram({
      name: 'auth_shim_webhook_review_duration_seconds',
      help: 'Time from receiving a review to answering it.',
      buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1],
      registers,
    });
    this.tlsReloads = new Counter({
      name: 'auth_shim_webhook_tls_reloads_total',
      help: 'Serving certificate loads, by result (loaded, unchanged, error).',
      labelNames: ['result'],
      registers,
    });
    this.certExpiry = new Gauge({
      name: 'auth_shim_webhook_certificate_expiry_timestamp_seconds',
      help: 'Unix time the serving certificate in use expires.',
      registers,
    });
    if (options.defaultMetrics ?? true) collectDefaultMetrics({ register: registry, prefix: 'auth_shim_' });
  }
}
