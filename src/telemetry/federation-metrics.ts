import { Counter, Gauge, Histogram, type Registry } from 'prom-client';

/** Token exchanges take a round trip or two; a bounded timeout (10 s) ends the slowest. */
const EXCHANGE_BUCKETS = [0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];

/**
 * Workload Identity Federation (issue 17), registered only by a sidecar that exchanges tokens. The federated
 * token's expiry has a gauge of its own: fed into the subscription token's, it would trip
 * AuthShimOAuthTokenExpiringSoon every hour. It reads 0 until the first exchange succeeds — "no valid
 * token", which is what AuthShimFederationNoValidToken alerts on.
 */
export class FederationMetrics {
  readonly exchanges: Counter<'result'>;
  readonly exchangeDuration: Histogram<never>;
  readonly tokenExpiry: Gauge<never>;

  constructor(registry: Registry) {
    const registers = [registry];
    this.exchanges = new Counter({
      name: 'auth_shim_federation_exchanges_total',
      help: 'Workload Identity Federation token exchanges, by result (success, refused, invalid_response, unreachable, identity_token_error).',
      labelNames: ['result'],
      registers,
    });
    this.exchangeDuration = new Histogram({
      name: 'auth_shim_federation_exchange_duration_seconds',
      help: 'Time one token exchange took, from reading the identity token to the parsed answer.',
      buckets: EXCHANGE_BUCKETS,
      registers,
    });
    this.tokenExpiry = new Gauge({
      name: 'auth_shim_federation_token_expiry_timestamp_seconds',
      help: 'Unix time the federated OAuth token in use expires; 0 until an exchange has succeeded.',
      registers,
    });
  }
}
