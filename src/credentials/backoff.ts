/**
 * The retry delay after `failures` consecutive failures: doubling from `initialMs`, capped at `maxMs`, with
 * ±20 % jitter so sidecars that failed together (an endpoint or API server outage) do not retry in step.
 */
export function backoffDelay(failures: number, initialMs: number, maxMs: number): number {
  const base = Math.min(maxMs, initialMs * 2 ** Math.min(Math.max(failures, 1) - 1, 16));
  return Math.round(base * (0.8 + Math.random() * 0.4));
}
