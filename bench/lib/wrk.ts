import { execFile } from 'node:child_process';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);

export interface LoadSpec {
  readonly path: string;
  readonly headers: ReadonlyArray<readonly [string, string]>;
  readonly body: string;
}

export interface LoadResult {
  readonly requests: number;
  readonly seconds: number;
  readonly rps: number;
  /** Latency percentiles in microseconds (wrk's own histogram, closed loop). */
  readonly p50Us: number;
  readonly p90Us: number;
  readonly p99Us: number;
  readonly maxUs: number;
  /** Socket errors plus non-2xx/3xx answers: any is a failed run. */
  readonly errors: number;
}

function lua(s: string): string {
  return `"${s.replace(/\\/g, '\\\\').replace(/"/g, '\\"')}"`;
}

/** Writes the wrk script for one hop: the request, and a `done` hook that prints JSON. */
export async function writeScript(dir: string, name: string, spec: LoadSpec): Promise<string> {
  const file = join(dir, `${name}.lua`);
  const lines = [
    'wrk.method = "POST"',
    `wrk.path = ${lua(spec.path)}`,
    'wrk.headers = {}',
    ...spec.headers.map(([k, v]) => `wrk.headers[${lua(k)}] = ${lua(v)}`),
    `wrk.body = ${lua(spec.body)}`,
    'done = function(summary, latency, requests)',
    '  local e = summary.errors',
    '  io.write(string.format("BENCH_JSON {\\"requests\\":%d,\\"duration_us\\":%d,\\"errors\\":%d,' +
      '\\"p50\\":%d,\\"p90\\":%d,\\"p99\\":%d,\\"max\\":%d}\\n",',
    '    summary.requests, summary.duration, e.connect + e.read + e.write + e.status + e.timeout,',
    '    latency:percentile(50), latency:percentile(90), latency:percentile(99), latency.max))',
    'end',
  ];
  await writeFile(file, `${lines.join('\n')}\n`);
  return file;
}

/** Runs wrk (one thread: the other core is the servers') for `seconds` at `connections`. */
export async function wrk(
  bin: string,
  url: string,
  script: string,
  connections: number,
  seconds: number,
): Promise<LoadResult> {
  const args = [
    '-t1',
    `-c${connections}`,
    `-d${Math.max(1, Math.round(seconds))}s`,
    '--timeout',
    '10s',
    '-s',
    script,
    url,
  ];
  const { stdout } = await run(bin, args, { timeout: (seconds + 30) * 1000, maxBuffer: 1 << 20 });
  const line = stdout.split('\n').find((l) => l.startsWith('BENCH_JSON '));
  if (line === undefined) throw new Error(`wrk printed no result:\n${stdout}`);
  const r = JSON.parse(line.slice('BENCH_JSON '.length)) as {
    requests: number;
    duration_us: number;
    errors: number;
    p50: number;
    p90: number;
    p99: number;
    max: number;
  };
  const secs = r.duration_us / 1e6;
  return {
    requests: r.requests,
    seconds: secs,
    rps: r.requests / secs,
    p50Us: r.p50,
    p90Us: r.p90,
    p99Us: r.p99,
    maxUs: r.max,
    errors: r.errors,
  };
}
