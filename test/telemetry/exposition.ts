import { expectGolden as expectGoldenFile } from '../helpers/golden.js';

/** Histograms of durations: bucket counts and sums depend on the machine, `_count` does not. */
const TIMING = /^(auth_shim_request_duration_seconds|auth_shim_upstream_first_byte_seconds)_(bucket|sum)[{ ]/;
/** Gauges holding "now" when something happened. */
const CLOCK = /^auth_shim_((credential_last_load|ratelimit_last_seen)_timestamp|oauth_token_expires_in)_seconds[{ ]/;
/**
 * Credential re-reads other than `loaded`: the file watcher may look again any number of times
 * (each sees `unchanged` or the same `invalid`); the script forces each result at least once.
 */
const EXTRA_READS = /^auth_shim_credential_reloads_total\{(?![^}]*result="loaded")/;

/**
 * Makes exposition text comparable across runs: only machine- and clock-dependent values change,
 * and the samples of a counter or gauge are sorted (series appear in the order they were first
 * touched, and credential files are read concurrently). Histogram buckets keep their `le` order.
 */
export function normaliseExposition(text: string): string {
  return `${text
    .split('\n\n')
    .map((block) => {
      const lines = block.split('\n').map(normaliseLine);
      if (lines.some((l) => / histogram$/.test(l) && l.startsWith('# TYPE'))) return lines.join('\n');
      const comments = lines.filter((l) => l.startsWith('#'));
      const samples = lines.filter((l) => !l.startsWith('#') && l !== '').sort();
      return [...comments, ...samples].join('\n');
    })
    .join('\n\n')
    .trimEnd()}\n`;
}

function normaliseLine(line: string): string {
  if (TIMING.test(line)) return replaceValue(line, '<timing>');
  if (CLOCK.test(line)) return replaceValue(line, '<timestamp>');
  if (EXTRA_READS.test(line)) return replaceValue(line, '<n>');
  return line;
}

function replaceValue(line: string, placeholder: string): string {
  return line.replace(/ [^ ]+$/, ` ${placeholder}`);
}

/** Compares with a golden file under test/telemetry/golden/, or rewrites it with UPDATE_GOLDEN=1. */
export async function expectGolden(name: string, actual: string): Promise<void> {
  await expectGoldenFile(new URL(`./golden/${name}`, import.meta.url).pathname, actual);
}
