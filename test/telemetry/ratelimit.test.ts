import { Registry } from 'prom-client';
import { describe, expect, it } from 'vitest';
import { parseRateLimitHeaders, parseReset, RateLimitMetrics } from '../../src/telemetry/ratelimit.js';

describe('parseRateLimitHeaders', () => {
  it('returns nothing for responses without rate-limit headers', () => {
    expect(parseRateLimitHeaders(['content-type', 'application/json', 'request-id', 'req_1'])).toBeUndefined();
  });

  it('reads the unified subscription family (captured header shapes)', () => {
    const r = parseRateLimitHeaders([
      'anthropic-ratelimit-unified-status',
      'allowed_warning',
      'anthropic-ratelimit-unified-reset',
      '1785736800',
      'anthropic-ratelimit-unified-representative-claim',
      'seven_day_overage_included',
      'anthropic-ratelimit-unified-5h-utilization',
      '0.0',
      'anthropic-ratelimit-unified-7d-utilization',
      '0.94',
      'anthropic-ratelimit-unified-7d-status',
      'allowed_warning',
      'Anthropic-Ratelimit-Unified-7d-Reset',
      '1785736800',
      'anthropic-ratelimit-unified-7d_oi-utilization',
      '1.0',
      'anthropic-ratelimit-unified-overage-status',
      'rejected',
      'anthropic-ratelimit-unified-overage-disabled-reason',
      'org_level_disabled',
      'anthropic-ratelimit-unified-fallback-percentage',
      '0.5',
    ]);
    expect(r?.unified.status).toBe('allowed_warning');
    expect(r?.unified.reset).toBe(1785736800);
    expect(r?.unified.claim).toBe('seven_day_overage_included');
    expect(Object.fromEntries(r?.unified.windows ?? [])).toEqual({
      '5h': { utilization: 0 },
      '7d': { utilization: 0.94, status: 'allowed_warning', reset: 1785736800 },
      other: { utilization: 1 },
      overage: { status: 'rejected' },
    });
    expect(r?.sawClassic).toBe(false);
  });

  it('maps unknown statuses and claims to other', () => {
    const r = parseRateLimitHeaders([
      'anthropic-ratelimit-unified-status',
      'rate_limited',
      'anthropic-ratelimit-unified-representative-claim',
      'ten_year',
    ]);
    expect(r?.unified.status).toBe('other');
    expect(r?.unified.claim).toBe('other');
  });

  it('reads the classic family with RFC 3339 resets', () => {
    const r = parseRateLimitHeaders([
      'anthropic-ratelimit-requests-limit',
      '50',
      'anthropic-ratelimit-requests-remaining',
      '49',
      'anthropic-ratelimit-requests-reset',
      '2025-10-25T12:00:00Z',
      'anthropic-ratelimit-input-tokens-remaining',
      '29873',
      'anthropic-ratelimit-output-tokens-reset',
      'garbage',
    ]);
    expect(Object.fromEntries(r?.classic ?? [])).toEqual({
      requests: { limit: 50, remaining: 49, reset: Date.parse('2025-10-25T12:00:00Z') / 1000 },
      input_tokens: { remaining: 29873 },
    });
  });

  it('accepts LiteLLM llm_provider- copies; the upstream own header wins', () => {
    const r = parseRateLimitHeaders([
      'anthropic-ratelimit-unified-status',
      'allowed',
      'llm_provider-anthropic-ratelimit-unified-status',
      'rejected',
      'llm_provider-anthropic-ratelimit-tokens-remaining',
      '100',
    ]);
    expect(r?.unified.status).toBe('allowed');
    expect(r?.classic.get('tokens')).toEqual({ remaining: 100 });
  });

  it('parses resets as Unix seconds or RFC 3339', () => {
    expect(parseReset('1770685200')).toBe(1770685200);
    expect(parseReset('2026-09-17T09:13:32Z')).toBe(Date.parse('2026-09-17T09:13:32Z') / 1000);
    expect(parseReset('2026-09-17T09:13:32.5+02:00')).toBe(Date.parse('2026-09-17T07:13:32.5Z') / 1000);
    expect(parseReset('soon')).toBeUndefined();
  });
});

describe('RateLimitMetrics', () => {
  it('sets one-hot status gauges and keeps the last value of each gauge', async () => {
    const registry = new Registry();
    const m = new RateLimitMetrics(registry);
    m.record(parseRateLimitHeaders(['anthropic-ratelimit-unified-status', 'allowed'])!, 100);
    m.record(parseRateLimitHeaders(['anthropic-ratelimit-unified-status', 'rejected'])!, 200);
    const text = await registry.metrics();
    expect(text).toContain('auth_shim_ratelimit_unified_status{status="allowed"} 0');
    expect(text).toContain('auth_shim_ratelimit_unified_status{status="rejected"} 1');
    expect(text).toContain('auth_shim_ratelimit_last_seen_timestamp_seconds{family="unified"} 200');
  });
});
