import { Counter, type Registry } from 'prom-client';

/** `type` label values of `auth_shim_tokens_total`, named after Anthropic's `usage` fields. */
export const TOKEN_TYPES = ['input', 'output', 'cache_read', 'cache_creation'] as const;
export type TokenType = (typeof TOKEN_TYPES)[number];

/** Why a successful response's usage was not counted. */
export const USAGE_SKIP_REASONS = ['too_large', 'encoded', 'unparseable'] as const;
export type UsageSkipReason = (typeof USAGE_SKIP_REASONS)[number];

/** Token usage read from responses by the usage tap. */
export class UsageMetrics {
  readonly tokens: Counter<'type' | 'model'>;
  readonly skipped: Counter<'reason'>;

  constructor(registry: Registry) {
    const registers = [registry];
    this.tokens = new Counter({
      name: 'auth_shim_tokens_total',
      help:
        'Tokens reported in successful responses (JSON usage, SSE message_start/message_delta), ' +
        'by type (input, output, cache_read, cache_creation) and model (first 20 seen, then other).',
      labelNames: ['type', 'model'],
      registers,
    });
    this.skipped = new Counter({
      name: 'auth_shim_token_usage_skipped_total',
      help:
        'Successful responses whose token usage was not counted, by reason ' +
        '(too_large: JSON body over 1 MiB or SSE line over 64 KiB; encoded: compressed body; unparseable).',
      labelNames: ['reason'],
      registers,
    });
  }
}
