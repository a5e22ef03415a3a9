import type { ProxyMetrics } from './metrics.js';
import { ModelLabels } from './model-label.js';
import { parseRateLimitHeaders } from './ratelimit.js';
import { JsonUsageCollector, MAX_JSON_BYTES, SseUsageScanner, type UsageResult } from './usage-parse.js';
import type { TokenType } from './usage-metrics.js';
import type { RequestUsage, ResponseHead, ResponseObserver, ResponseTap } from '../vocabulary/response.js';

/** A model name is the upstream's word; a log line carries at most this much of it. */
const MAX_LOGGED_MODEL = 100;

export interface UsageObserverOptions {
  /** Largest JSON body read for usage (default 1 MiB); larger responses are not counted. */
  readonly maxJsonBytes?: number;
  readonly maxModels?: number;
  /** Clock for `auth_shim_ratelimit_last_seen_timestamp_seconds` (Unix seconds). */
  readonly nowSeconds?: () => number;
}

/**
 * The proxy's response observer: rate-limit headers become gauges on every response, and the
 * token usage of successful (2xx) responses becomes `auth_shim_tokens_total`. It reads the very
 * Buffers the proxy writes to the client and never changes or holds them back; a failure in here
 * is swallowed, since telemetry must never break a response.
 */
export function createUsageObserver(metrics: ProxyMetrics, opts: UsageObserverOptions = {}): ResponseObserver {
  const models = new ModelLabels(opts.maxModels);
  const maxJson = opts.maxJsonBytes ?? MAX_JSON_BYTES;
  const now = opts.nowSeconds ?? (() => Date.now() / 1000);

  function count(result: UsageResult): RequestUsage | undefined {
    if (result.problem !== undefined) {
      metrics.usage.skipped.inc({ reason: result.problem });
      return undefined;
    }
    const u = result.usage;
    if (u.input === undefined && u.output === undefined && u.cacheRead === undefined && u.cacheCreation === undefined)
      return undefined;
    const model = models.label(result.model);
    add('input', model, u.input);
    add('output', model, u.output);
    add('cache_read', model, u.cacheRead);
    add('cache_creation', model, u.cacheCreation);
    return {
      model: typeof result.model === 'string' ? result.model.slice(0, MAX_LOGGED_MODEL) : 'unknown',
      input: u.input ?? 0,
      output: u.output ?? 0,
      cacheRead: u.cacheRead ?? 0,
      cacheCreation: u.cacheCreation ?? 0,
    };
  }

  function add(type: TokenType, model: string, n: number | undefined): void {
    if (n !== undefined && n > 0) metrics.usage.tokens.inc({ type, model }, n);
  }

  class UsageTap implements ResponseTap {
    #sse: SseUsageScanner | undefined;
    #json: JsonUsageCollector | undefined;

    headers(head: ResponseHead, status: number): void {
      try {
        const limits = parseRateLimitHeaders(head.headers);
        if (limits !== undefined) metrics.rateLimits.record(limits, now());
        if (status < 200 || status >= 300) return;
        const sse = head.contentType.startsWith('text/event-stream');
        if (!sse && !head.contentType.startsWith('application/json')) return;
        if (head.contentEncoding !== '' && head.contentEncoding !== 'identity') {
          // The client asked for compression; decompressing a copy would cost more than it tells.
          metrics.usage.skipped.inc({ reason: 'encoded' });
        } else if (sse) {
          this.#sse = new SseUsageScanner();
        } else if (head.contentLength !== undefined && head.contentLength > maxJson) {
          metrics.usage.skipped.inc({ reason: 'too_large' });
        } else {
          this.#json = new JsonUsageCollector(maxJson);
        }
      } catch {
        this.#sse = this.#json = undefined;
      }
    }

    data(chunk: Buffer): void {
      try {
        this.#sse?.push(chunk);
        this.#json?.push(chunk);
      } catch {
        this.#sse = this.#json = undefined;
      }
    }

    end(): RequestUsage | undefined {
      try {
        const result = this.#sse?.finish() ?? this.#json?.finish();
        return result === undefined ? undefined : count(result);
      } catch {
        return undefined; // see the class comment
      } finally {
        this.#sse = this.#json = undefined;
      }
    }
  }

  return { start: () => new UsageTap() };
}
