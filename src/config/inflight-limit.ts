import { getHeapStatistics } from 'node:v8';
import type { Parsed } from './options.js';
import { nonNegativeInt, ok } from './parsers.js';

/**
 * Memory budgeted per request in flight when the cap is derived: a 16 KiB POST held for a
 * non-answering upstream measured ~35 KiB of RSS (issue 15, item 4: 6,000 of them took the proxy
 * to 284 MiB); 128 KiB leaves room for larger, streamed bodies and their socket buffers.
 */
export const BYTES_PER_INFLIGHT_REQUEST = 128 * 1024;
/** Never derive fewer than this: a small heap still serves an agent's parallel sub-agents. */
export const MIN_DERIVED_INFLIGHT = 64;

/**
 * `auto` sizes the cap from V8's heap limit, which the injector sets from the sidecar's memory
 * limit (`--max-old-space-size` = half of it, src/injector/sidecar.ts): with the default 256Mi,
 * a 140 MiB heap → 1,120 requests. Nothing else needs to pass the limit in.
 */
export function maxInflight(raw: string, env: string): Parsed<number> {
  if (raw !== 'auto') return nonNegativeInt('requests')(raw, env);
  return ok(derivedMaxInflight(getHeapStatistics().heap_size_limit));
}

export function derivedMaxInflight(heapLimitBytes: number): number {
  return Math.max(MIN_DERIVED_INFLIGHT, Math.floor(heapLimitBytes / BYTES_PER_INFLIGHT_REQUEST));
}
