import { Client } from 'undici';
import { percentile } from './proc.js';
import type { StreamTarget } from './stream.js';

/** Untimed requests before the timed ones (the connection and both sides' code warmed). */
export const SEQUENTIAL_WARMUP = 200;

/** Every request of a closed loop at concurrency 1, timed one by one (µs). */
export interface SequentialResult {
  readonly requests: number;
  readonly seconds: number;
  readonly p50Us: number;
  readonly p90Us: number;
  readonly p99Us: number;
  readonly p999Us: number;
  readonly maxUs: number;
  readonly errors: number;
}

/**
 * One request at a time for `seconds`, each timed from the request's start to its last byte, with
 * no correction. wrk's percentiles are corrected for coordinated omission (wrk.c's `stats_correct`
 * adds a synthetic sample per expected interval of every slow response) — right for open-loop
 * traffic at the hop's full rate, but an agent sends a request, waits, then sends the next: this
 * is the latency each of its requests sees. The client is the same for every hop, so its own
 * cost (~20–30 µs) cancels in the added latency.
 */
export async function timeSequential(t: StreamTarget, seconds: number): Promise<SequentialResult> {
  const u = new URL(t.url);
  const client = new Client(u.origin, { pipelining: 1 });
  const headers: string[] = [];
  for (const [k, v] of t.headers) headers.push(k, v);
  const body = Buffer.from(t.body);
  const lat: number[] = [];
  let errors = 0;
  const one = async (): Promise<number> => {
    const t0 = performance.now();
    const res = await client.request({ path: t.path, method: 'POST', headers, body });
    for await (const _ of res.body) {
      // drain
    }
    if (res.statusCode >= 400) errors++;
    return (performance.now() - t0) * 1000;
  };
  try {
    for (let i = 0; i < SEQUENTIAL_WARMUP; i++) await one();
    const start = performance.now();
    const until = start + seconds * 1000;
    while (performance.now() < until) lat.push(await one());
    return {
      requests: lat.length,
      seconds: (performance.now() - start) / 1000,
      p50Us: Math.round(percentile(lat, 50)),
      p90Us: Math.round(percentile(lat, 90)),
      p99Us: Math.round(percentile(lat, 99)),
      p999Us: Math.round(percentile(lat, 99.9)),
      maxUs: Math.round(percentile(lat, 100)),
      errors,
    };
  } finally {
    await client.close();
  }
}
