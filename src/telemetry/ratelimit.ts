import { Gauge, type Registry } from 'prom-client';

/*
 * Anthropic's rate-limit response headers, as auth-shim reads them. Facts relied on:
 *
 * - Subscription (OAuth) traffic carries the "unified" family:
 *   `anthropic-ratelimit-unified-status` (`allowed` | `allowed_warning` | `rejected`),
 *   `-unified-reset` (Unix seconds of the binding window's reset), `-unified-representative-claim`
 *   (`five_hour`, `seven_day`, `seven_day_opus`, `seven_day_sonnet`, `overage`, …), and per window
 *   `-unified-<w>-status|-reset|-utilization` for `5h`, `7d`, `overage` and model-scoped windows
 *   (`7d_sonnet`, `7d_opus`, …). Utilisation is a fraction 0–1; resets are Unix seconds.
 *   Source: Claude Code's own parser (`services/claudeAiLimits.ts`, `computeNewLimitsFromHeaders`,
 *   `RateLimitType`, `QuotaStatus`, reads resets with `Number(…)`), headers captured from live
 *   responses quoted in anthropics/claude-code#12829 and anomalyco/opencode#49653, and
 *   `anthropic-ratelimit-unified-representative-claim: seven_day_overage_included` seen in the wild.
 *   Claude Code treats "status rejected + overage status allowed" as *using overage* (extra usage).
 * - API-key traffic carries the classic family `anthropic-ratelimit-{requests,tokens,input-tokens,
 *   output-tokens}-{limit,remaining,reset}`; its resets are RFC 3339 (`2025-10-25T12:00:00Z`,
 *   Anthropic's rate-limit docs). One third-party capture shows RFC 3339 on unified resets too, so
 *   every reset here accepts either form.
 * - LiteLLM's unified routes copy every provider header with an `llm_provider-` prefix
 *   (`process_anthropic_headers()` in `litellm/llms/anthropic/common_utils.py`). The un-prefixed
 *   header wins when both arrive (it is the upstream's own).
 */

/** Unified status values; anything else is `other` so the label set stays bounded. */
export const UNIFIED_STATUSES = ['allowed', 'allowed_warning', 'rejected', 'other'] as const;
export type UnifiedStatus = (typeof UNIFIED_STATUSES)[number];

/** Representative claims Claude Code knows, plus one seen on Team plans; the rest is `other`. */
export const UNIFIED_CLAIMS = [
  'five_hour',
  'seven_day',
  'seven_day_opus',
  'seven_day_sonnet',
  'seven_day_overage_included',
  'overage',
  'other',
] as const;
export type UnifiedClaim = (typeof UNIFIED_CLAIMS)[number];

/** Window names as they appear in `anthropic-ratelimit-unified-<window>-…`; the rest is `other`. */
export const UNIFIED_WINDOWS = ['5h', '7d', '7d_opus', '7d_sonnet', 'overage', 'other'] as const;
export type UnifiedWindow = (typeof UNIFIED_WINDOWS)[number];

export const CLASSIC_RESOURCES = ['requests', 'tokens', 'input_tokens', 'output_tokens'] as const;
export type ClassicResource = (typeof CLASSIC_RESOURCES)[number];

export interface WindowState {
  status?: UnifiedStatus;
  utilization?: number;
  reset?: number;
}

export interface ClassicState {
  limit?: number;
  remaining?: number;
  reset?: number;
}

/** What one response said about the rate limits; only fields that were present and parsed. */
export interface RateLimitReport {
  unified: {
    status?: UnifiedStatus;
    reset?: number;
    claim?: UnifiedClaim;
    windows: Map<UnifiedWindow, WindowState>;
  };
  classic: Map<ClassicResource, ClassicState>;
  sawUnified: boolean;
  sawClassic: boolean;
}

const PREFIX = 'anthropic-ratelimit-';
const LITELLM_PREFIX = 'llm_provider-anthropic-ratelimit-';
const UNIFIED = 'unified-';
const CLASSIC_NAME = /^(requests|tokens|input-tokens|output-tokens)-(limit|remaining|reset)$/;
const UNIFIED_WINDOW_FIELD = /^(.+)-(status|utilization|reset)$/;
const UNIX_SECONDS = /^\d{1,12}(\.\d+)?$/;
const NUMBER = /^-?\d+(\.\d+)?(e[+-]?\d+)?$/i;

const STATUS_SET: ReadonlySet<string> = new Set(UNIFIED_STATUSES);
const CLAIM_SET: ReadonlySet<string> = new Set(UNIFIED_CLAIMS);
const WINDOW_SET: ReadonlySet<string> = new Set(UNIFIED_WINDOWS);

/**
 * Reads the rate-limit headers of one response from its flat `[name, value, …]` list; returns
 * `undefined` when there are none (the common case costs one `startsWith` per header).
 */
export function parseRateLimitHeaders(headers: readonly string[]): RateLimitReport | undefined {
  // LiteLLM's `llm_provider-` copies are applied first, then the upstream's own, which win.
  let own: Array<[string, string]> | undefined;
  let copied: Array<[string, string]> | undefined;
  for (let i = 0; i < headers.length; i += 2) {
    const raw = headers[i] as string;
    // Cheap pre-filter: only names starting with `a`/`l` (any case) can match.
    const first = raw.charCodeAt(0) | 0x20;
    if (first !== 0x61 && first !== 0x6c) continue;
    const name = raw.toLowerCase();
    if (name.startsWith(PREFIX)) (own ??= []).push([name.slice(PREFIX.length), headers[i + 1] as string]);
    else if (name.startsWith(LITELLM_PREFIX))
      (copied ??= []).push([name.slice(LITELLM_PREFIX.length), headers[i + 1] as string]);
  }
  if (own === undefined && copied === undefined) return undefined;
  const report: RateLimitReport = {
    unified: { windows: new Map() },
    classic: new Map(),
    sawUnified: false,
    sawClassic: false,
  };
  for (const [k, v] of copied ?? []) apply(report, k, v);
  for (const [k, v] of own ?? []) apply(report, k, v);
  return report;
}

function apply(report: RateLimitReport, key: string, raw: string): void {
  const value = raw.trim();
  if (key.startsWith(UNIFIED)) {
    const rest = key.slice(UNIFIED.length);
    const u = report.unified;
    if (rest === 'status') {
      u.status = statusOf(value);
      report.sawUnified = true;
    } else if (rest === 'reset') {
      const t = parseReset(value);
      if (t !== undefined) {
        u.reset = t;
        report.sawUnified = true;
      }
    } else if (rest === 'representative-claim') {
      u.claim = CLAIM_SET.has(value) ? (value as UnifiedClaim) : 'other';
      report.sawUnified = true;
    } else {
      const m = UNIFIED_WINDOW_FIELD.exec(rest);
      if (m === null) return; // fallback-percentage, overage-disabled-reason, …: not exported
      const window: UnifiedWindow = WINDOW_SET.has(m[1] as string) ? (m[1] as UnifiedWindow) : 'other';
      let w = u.windows.get(window);
      if (w === undefined) u.windows.set(window, (w = {}));
      const field = m[2];
      if (field === 'status') w.status = statusOf(value);
      else if (field === 'utilization') {
        const n = parseNumber(value);
        if (n === undefined) return;
        w.utilization = n;
      } else {
        const t = parseReset(value);
        if (t === undefined) return;
        w.reset = t;
      }
      report.sawUnified = true;
    }
    return;
  }
  const m = CLASSIC_NAME.exec(key);
  if (m === null) return;
  const resource = (m[1] as string).replace('-', '_') as ClassicResource;
  const n = m[2] === 'reset' ? parseReset(value) : parseNumber(value);
  if (n === undefined) return;
  let c = report.classic.get(resource);
  if (c === undefined) report.classic.set(resource, (c = {}));
  c[m[2] as 'limit' | 'remaining' | 'reset'] = n;
  report.sawClassic = true;
}

function statusOf(value: string): UnifiedStatus {
  return STATUS_SET.has(value) && value !== 'other' ? (value as UnifiedStatus) : 'other';
}

function parseNumber(value: string): number | undefined {
  if (!NUMBER.test(value)) return undefined;
  const n = Number(value);
  return Number.isFinite(n) ? n : undefined;
}

/** A reset as Unix seconds: Unix seconds as sent, or an RFC 3339 timestamp converted. */
export function parseReset(value: string): number | undefined {
  if (UNIX_SECONDS.test(value)) return Number(value);
  const ms = Date.parse(value);
  return Number.isNaN(ms) ? undefined : ms / 1000;
}

/**
 * The rate-limit gauges: the last state any response reported. A pod's sidecar only sees its own
 * agent's traffic, so dashboards aggregate with `max by (…)` across pods sharing a subscription.
 */
export class RateLimitMetrics {
  readonly unifiedStatus: Gauge<'status'>;
  readonly unifiedReset: Gauge<never>;
  readonly unifiedClaim: Gauge<'claim'>;
  readonly windowUtilization: Gauge<'window'>;
  readonly windowReset: Gauge<'window'>;
  readonly windowStatus: Gauge<'window' | 'status'>;
  readonly limit: Gauge<'resource'>;
  readonly remaining: Gauge<'resource'>;
  readonly reset: Gauge<'resource'>;
  readonly lastSeen: Gauge<'family'>;

  constructor(registry: Registry) {
    const registers = [registry];
    this.unifiedStatus = new Gauge({
      name: 'auth_shim_ratelimit_unified_status',
      help:
        'Subscription status from anthropic-ratelimit-unified-status: ' +
        '1 for the current value (allowed, allowed_warning, rejected, other), 0 for the others.',
      labelNames: ['status'],
      registers,
    });
    this.unifiedReset = new Gauge({
      name: 'auth_shim_ratelimit_unified_reset_timestamp_seconds',
      help: 'Unix time the binding subscription window resets (anthropic-ratelimit-unified-reset).',
      registers,
    });
    this.unifiedClaim = new Gauge({
      name: 'auth_shim_ratelimit_unified_representative_claim',
      help:
        'The subscription window that currently binds (anthropic-ratelimit-unified-representative-claim): ' +
        '1 for the current claim, 0 for the others.',
      labelNames: ['claim'],
      registers,
    });
    this.windowUtilization = new Gauge({
      name: 'auth_shim_ratelimit_unified_utilization_ratio',
      help: 'Fraction (0-1) of a subscription window used (anthropic-ratelimit-unified-<window>-utilization).',
      labelNames: ['window'],
      registers,
    });
    this.windowReset = new Gauge({
      name: 'auth_shim_ratelimit_unified_window_reset_timestamp_seconds',
      help: 'Unix time a subscription window resets (anthropic-ratelimit-unified-<window>-reset).',
      labelNames: ['window'],
      registers,
    });
    this.windowStatus = new Gauge({
      name: 'auth_shim_ratelimit_unified_window_status',
      help:
        'Status of a subscription window, incl. overage (anthropic-ratelimit-unified-<window>-status): ' +
        '1 for the current value, 0 for the others.',
      labelNames: ['window', 'status'],
      registers,
    });
    this.limit = new Gauge({
      name: 'auth_shim_ratelimit_limit',
      help:
        'API rate limit by resource (anthropic-ratelimit-<resource>-limit): ' +
        'requests, tokens, input_tokens, output_tokens per minute.',
      labelNames: ['resource'],
      registers,
    });
    this.remaining = new Gauge({
      name: 'auth_shim_ratelimit_remaining',
      help: 'API rate limit left by resource (anthropic-ratelimit-<resource>-remaining).',
      labelNames: ['resource'],
      registers,
    });
    this.reset = new Gauge({
      name: 'auth_shim_ratelimit_reset_timestamp_seconds',
      help: 'Unix time an API rate limit is fully replenished (anthropic-ratelimit-<resource>-reset).',
      labelNames: ['resource'],
      registers,
    });
    this.lastSeen = new Gauge({
      name: 'auth_shim_ratelimit_last_seen_timestamp_seconds',
      help:
        'Unix time a response last carried rate-limit headers, by family (unified, classic); ' +
        'older values are stale.',
      labelNames: ['family'],
      registers,
    });
  }

  /** Applies one response's report; `nowSeconds` stamps `last_seen`. */
  record(report: RateLimitReport, nowSeconds: number): void {
    const u = report.unified;
    if (u.status !== undefined) oneHot(this.unifiedStatus, 'status', UNIFIED_STATUSES, u.status);
    if (u.reset !== undefined) this.unifiedReset.set(u.reset);
    if (u.claim !== undefined) oneHot(this.unifiedClaim, 'claim', UNIFIED_CLAIMS, u.claim);
    for (const [window, w] of u.windows) {
      if (w.utilization !== undefined) this.windowUtilization.set({ window }, w.utilization);
      if (w.reset !== undefined) this.windowReset.set({ window }, w.reset);
      if (w.status !== undefined) {
        for (const s of UNIFIED_STATUSES) this.windowStatus.set({ window, status: s }, s === w.status ? 1 : 0);
      }
    }
    for (const [resource, c] of report.classic) {
      if (c.limit !== undefined) this.limit.set({ resource }, c.limit);
      if (c.remaining !== undefined) this.remaining.set({ resource }, c.remaining);
      if (c.reset !== undefined) this.reset.set({ resource }, c.reset);
    }
    if (report.sawUnified) this.lastSeen.set({ family: 'unified' }, nowSeconds);
    if (report.sawClassic) this.lastSeen.set({ family: 'classic' }, nowSeconds);
  }
}

function oneHot<L extends string>(gauge: Gauge<L>, label: L, values: readonly string[], current: string): void {
  for (const v of values) gauge.set({ [label]: v } as Partial<Record<L, string>>, v === current ? 1 : 0);
}
