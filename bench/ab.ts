import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort } from '../test/e2e/_peers.js';
import { startNginx, upstreamConfig } from './lib/nginx.js';
import { cpuSeconds, killAllOwned, memory } from './lib/proc.js';
import { CLI, startShim } from './lib/shim.js';
import { startSseFake } from './lib/stream.js';
import { ensureTools } from './lib/tools.js';
import { agentHeaders, conversationBody, LITELLM_KEY, PATH, requestBody } from './lib/traffic.js';
import { wrk, writeScript } from './lib/wrk.js';

/**
 * `npm run bench:ab -- <cli-a.js> [<cli-b.js> …] [--rounds N] [--seconds S]`: an A/B of builds of the
 * CLI under the bench's load, rounds interleaved A, B, B, A … so drift in the machine hits both
 * alike. To compare a change: `npm run build && cp -r dist /tmp/before` on the old commit (with a
 * `node_modules` symlink beside it), then `npm run bench:ab -- /tmp/before/cli.js dist/cli.js` on the
 * new one. Each round starts a fresh shim as injected, warms it, then measures c=1 latency (wrk),
 * c=32 throughput, CPU per 1,000 requests, and RSS (with its anonymous part) idle and after the load.
 * Prints one line per round and the medians.
 * A build may carry its own node flags after an `@`, comma-separated (`dist/cli.js@--max-semi-space-size=2`);
 * the default is the image's `--max-semi-space-size=4`. `--body-kib N` pads the request's conversation
 * to about N KiB (past `SMALL_BODY_BYTES` the body streams upstream). `--stream N` asks for a streamed answer
 * instead: N `content_block_delta` events from the SSE fake, one per timer tick (its c=1 latency is then the fake's
 * pacing; CPU per request is the figure to read). The injector's NODE_OPTIONS always apply, and a
 * flag given here overrides the same flag there.
 */
const args = process.argv.slice(2);
const opt = (name: string, dflt: number): number => {
  const i = args.indexOf(name);
  return i >= 0 ? Number(args[i + 1]) : dflt;
};
const rounds = opt('--rounds', 3);
const seconds = opt('--seconds', 8);
/** Pads the request to about this many KiB (a longer conversation), 0 for the bench's ~1.9 KB request. */
const bodyKiB = opt('--body-kib', 0);
/** Events per streamed answer; 0 for the fixed JSON answer. */
const streamEvents = opt('--stream', 0);
const clis = args.filter((a, i) => !a.startsWith('--') && !args[i - 1]?.startsWith('--'));
if (clis.length === 0) clis.push(CLI);
const log = (line: string): void => void process.stderr.write(`${line}\n`);

interface Row {
  c1p50: number;
  c1p99: number;
  c32rps: number;
  c32p99: number;
  cpuMsPerKreq: number;
  idleAnonMiB: number;
  rssMiB: number;
  anonMiB: number;
}
const results = new Map<string, Row[]>(clis.map((c) => [c, []]));

const tools = await ensureTools(log);
const dir = await mkdtemp(join(tmpdir(), 'auth-shim-ab-'));
process.once('exit', () => killAllOwned());
const sse = await startSseFake();
const upPort = await freePort();
const upstream = await startNginx(
  tools.nginx,
  join(dir, 'up'),
  upstreamConfig(join(dir, 'up'), upPort, sse.port),
  upPort,
);
const keyFile = join(dir, 'key');
await writeFile(keyFile, `${LITELLM_KEY}\n`);
const script = await writeScript(dir, 'shim', {
  path: PATH,
  headers:
    streamEvents > 0
      ? [
          ...agentHeaders(),
          ['x-bench-stream', '1'],
          ['x-bench-events', String(streamEvents)],
          ['x-bench-spacing-ms', '0'],
        ]
      : agentHeaders(),
  body: bodyKiB > 0 ? conversationBody(bodyKiB) : requestBody(streamEvents > 0),
});
try {
  for (let r = 0; r < rounds; r++) {
    // Every other round runs the builds in reverse (A B, B A, …): whatever the machine does between
    // two measurements then falls on each build alike.
    for (const cli of r % 2 === 0 ? clis : [...clis].reverse()) {
      const [path = CLI, flags] = cli.split('@');
      const nodeFlags = flags === undefined ? ['--max-semi-space-size=4'] : flags.split(',');
      const shim = await startShim({
        upstreamUrl: upstream.url,
        litellmKeyFile: keyFile,
        nodeFlags,
        logFile: join(dir, 'shim.log'),
        upstreamConnections: 0,
        cli: path,
      });
      try {
        const idle = memory(shim.pid);
        await wrk(tools.wrk, shim.url, script, 32, 3);
        const c1 = await wrk(tools.wrk, shim.url, script, 1, seconds);
        const cpu0 = cpuSeconds(shim.pid);
        const c32 = await wrk(tools.wrk, shim.url, script, 32, seconds);
        const cpu = cpuSeconds(shim.pid) - cpu0;
        const loaded = memory(shim.pid);
        const row: Row = {
          c1p50: c1.p50Us,
          c1p99: c1.p99Us,
          c32rps: Math.round(c32.rps),
          c32p99: c32.p99Us,
          cpuMsPerKreq: Math.round((cpu / c32.requests) * 1e6 * 100) / 100,
          idleAnonMiB: idle.anonMiB,
          rssMiB: loaded.rssMiB,
          anonMiB: loaded.anonMiB,
        };
        if (c1.errors + c32.errors > 0) log(`  errors: ${c1.errors + c32.errors}`);
        results.get(cli)?.push(row);
        log(`round ${r + 1} ${cli}: ${JSON.stringify(row)}`);
      } finally {
        await shim.stop();
      }
    }
  }
} finally {
  await upstream.stop();
  await sse.close();
  await rm(dir, { recursive: true, force: true });
}
const med = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] as number;
for (const [cli, rows] of results) {
  const keys = Object.keys(rows[0] ?? {}) as Array<keyof Row>;
  const spread = (k: keyof Row): string => {
    const xs = rows.map((x) => x[k]);
    return `${k}=${med(xs)} (${Math.min(...xs)}–${Math.max(...xs)})`;
  };
  log(`median (min–max) ${cli}: ${keys.map(spread).join(' ')}`);
}
