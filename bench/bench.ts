import { execFile } from 'node:child_process';
import { INJECTOR_OPTIONS } from '../src/injector/config.js';
import { nodeOptions } from '../src/injector/sidecar.js';
import { readdirSync, readFileSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { cpus, loadavg, totalmem, tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { freePort, LITELLM_NEW, ensureLitellm, startLitellm, type Litellm } from '../test/e2e/_peers.js';
import { proxyConfig, startNginx, upstreamConfig, type Nginx } from './lib/nginx.js';
import { cpuSeconds, killAllOwned, median, memory, mib, peakRssBytes, sleep, type Memory } from './lib/proc.js';
import { SEQUENTIAL_WARMUP, timeSequential, type SequentialResult } from './lib/sequential.js';
import { startShim, type Shim } from './lib/shim.js';
import {
  openStreams,
  startSseFake,
  timeStreams,
  type SseFake,
  type StreamTarget,
  type StreamTiming,
} from './lib/stream.js';
import { ensureTools, nginxVersion, wrkVersion, type Tools } from './lib/tools.js';
import { agentHeaders, conversationBody, LITELLM_KEY, PATH, requestBody, translatedHeaders } from './lib/traffic.js';
import { wrk, writeScript, type LoadResult, type LoadSpec } from './lib/wrk.js';

const execFileP = promisify(execFile);

/**
 * The flags `auth-shim proxy` runs with in the bench's main row — the ones the image's ENTRYPOINT
 * and the injected sidecar's NODE_OPTIONS should carry (see docs/PERFORMANCE.md for why).
 */
export const RECOMMENDED_FLAGS: readonly string[] = ['--max-semi-space-size=4'];

/** V8 flag sets measured side by side, to choose RECOMMENDED_FLAGS from numbers. */
export const FLAG_VARIANTS: ReadonlyArray<readonly string[]> = [
  [],
  ['--max-semi-space-size=1'],
  ['--max-semi-space-size=2'],
  ['--max-semi-space-size=4'],
  ['--max-semi-space-size=8'],
  ['--max-semi-space-size=4', '--max-old-space-size=32'],
  ['--max-semi-space-size=4', '--max-old-space-size=64'],
];

export type HopName = 'direct' | 'shim' | 'nginx' | 'litellm';

export interface Sizes {
  readonly warmupSeconds: number;
  readonly c1Seconds: number;
  readonly c32Seconds: number;
  /** Requests a hop must have served before "RSS after the burst" is read (100k in the issue). */
  readonly burstRequests: number;
  /** LiteLLM serves a few hundred requests a second: its burst is capped in time instead. */
  readonly litellmBurstSeconds: number;
  readonly streams: number;
  readonly streamEvents: number;
  readonly spacingMs: number;
  readonly openStreams: number;
  readonly startupRuns: number;
  readonly litellmStartupRuns: number;
  /** Throughput at c=32 with a conversation of this many KiB (0: skipped; LiteLLM never). */
  readonly largeBodyKiB: number;
  readonly largeBodySeconds: number;
}

export const FULL: Sizes = {
  warmupSeconds: 2,
  c1Seconds: 5,
  c32Seconds: 5,
  burstRequests: 100_000,
  litellmBurstSeconds: 15,
  streams: 20,
  streamEvents: 25,
  spacingMs: 20,
  openStreams: 1_000,
  startupRuns: 11,
  litellmStartupRuns: 3,
  largeBodyKiB: 64,
  largeBodySeconds: 5,
};

export const SMOKE: Sizes = {
  warmupSeconds: 1,
  c1Seconds: 1,
  c32Seconds: 2,
  burstRequests: 0,
  litellmBurstSeconds: 0,
  streams: 2,
  streamEvents: 10,
  spacingMs: 20,
  openStreams: 100,
  startupRuns: 3,
  litellmStartupRuns: 0,
  largeBodyKiB: 0,
  largeBodySeconds: 0,
};

export interface BenchOptions {
  readonly sizes: Sizes;
  readonly litellm: boolean;
  readonly flagVariants: boolean;
  readonly log: (line: string) => void;
}

export interface HopResult {
  readonly label: string;
  readonly c1: LoadResult;
  readonly c32: LoadResult;
  readonly stream: StreamTiming;
  /** Requests the process had served when `rssAfterBurstMiB` was read. */
  readonly burstRequests?: number;
  readonly rssIdleMiB?: number;
  readonly rssAfterBurstMiB?: number;
  readonly rssOpenStreamsMiB?: number;
  readonly openStreams?: {
    readonly wanted: number;
    readonly open: number;
    readonly failed: number;
    readonly seconds: number;
  };
  readonly peakRssMiB?: number;
  /** RssAnon at the same three moments (what is not the executable's shared, file-backed pages). */
  readonly anonIdleMiB?: number;
  readonly anonAfterBurstMiB?: number;
  readonly anonOpenStreamsMiB?: number;
  /** Concurrency 1, every request timed, no coordinated-omission correction (lib/sequential.ts). */
  readonly perRequest?: SequentialResult;
  /** Concurrency 32 with a longer conversation (Sizes.largeBodyKiB), and the hop's CPU for it. */
  readonly largeBody?: {
    readonly kib: number;
    readonly bytes: number;
    readonly load: LoadResult;
    readonly cpuSecondsPer10k?: number;
  };
  readonly cpuSecondsPer10k?: number;
  readonly startupMs?: { readonly median: number; readonly runs: number[] };
}

export interface FlagVariantResult {
  readonly flags: readonly string[];
  readonly startupMs: number;
  readonly rssIdleMiB: number;
  readonly rssAfterBurstMiB: number;
  readonly rssOpenStreamsMiB: number;
  readonly anonAfterBurstMiB: number;
  readonly anonOpenStreamsMiB: number;
  readonly peakRssMiB: number;
  readonly rps: number;
  readonly p99C32Us: number;
  readonly cpuSecondsPer10k: number;
  /** Set when the process died during the run (e.g. its V8 heap limit was too small). */
  readonly died?: string;
}

export interface BenchResults {
  readonly generatedAt: string;
  readonly mode: 'full' | 'smoke';
  readonly seconds: number;
  readonly machine: Record<string, string | number>;
  readonly setup: Record<string, string>;
  readonly shimFlags: readonly string[];
  readonly hops: Partial<Record<HopName, HopResult>>;
  readonly flagVariants?: FlagVariantResult[];
}

interface Ctx {
  readonly tools: Tools;
  readonly dir: string;
  readonly sizes: Sizes;
  readonly upstream: Nginx;
  readonly sse: SseFake;
  readonly keyFile: string;
  readonly log: (line: string) => void;
  readonly scripts: Map<string, string>;
}

interface Target extends StreamTarget {
  readonly name: string;
  readonly pid: () => number | undefined;
}

async function script(ctx: Ctx, t: Target, body = t.body, name = t.name): Promise<string> {
  let s = ctx.scripts.get(name);
  if (s === undefined) {
    const spec: LoadSpec = { path: t.path, headers: t.headers, body };
    s = await writeScript(ctx.dir, name, spec);
    ctx.scripts.set(name, s);
  }
  return s;
}

/** Throughput at c=32 with a longer conversation; `undefined` when the sizes skip it. */
async function largeBody(ctx: Ctx, t: Target, served: { n: number }): Promise<HopResult['largeBody']> {
  const kib = ctx.sizes.largeBodyKiB;
  if (kib <= 0 || ctx.sizes.largeBodySeconds <= 0) return undefined;
  const body = conversationBody(kib);
  const s = await script(ctx, t, body, `${t.name}-large`);
  const { load, cpuSecondsPer10k } = await c32WithCpu(
    ctx,
    t,
    s,
    ctx.sizes.largeBodySeconds,
    `${t.name} c=32 ${kib} KiB`,
  );
  served.n += load.requests;
  ctx.log(`  ${t.name}: c=32 with a ${kib} KiB conversation ${Math.round(load.rps)} req/s · errors ${load.errors}`);
  return {
    kib,
    bytes: Buffer.byteLength(body),
    load,
    ...(cpuSecondsPer10k === undefined ? {} : { cpuSecondsPer10k: round3(cpuSecondsPer10k) }),
  };
}

/** wrk at concurrency 32, and the CPU the hop's process(es) spent per 10k requests of it. */
async function c32WithCpu(
  ctx: Ctx,
  t: Target,
  s: string,
  seconds: number,
  what: string,
): Promise<{ load: LoadResult; cpuSecondsPer10k: number | undefined }> {
  const pid = t.pid();
  const cpu0 = pid === undefined ? 0 : cpuSeconds(pid);
  const load = check(what, await wrk(ctx.tools.wrk, t.url, s, 32, seconds));
  const cpu1 = pid === undefined ? 0 : cpuSeconds(pid);
  return { load, cpuSecondsPer10k: pid === undefined ? undefined : ((cpu1 - cpu0) / load.requests) * 10_000 };
}

function check(what: string, r: LoadResult): LoadResult {
  if (r.requests === 0) throw new Error(`${what}: no request completed`);
  return r;
}

/** Latency at concurrency 1 and 32, throughput, CPU per 10k requests, for one hop. */
async function load(
  ctx: Ctx,
  t: Target,
  served: { n: number },
): Promise<{ c1: LoadResult; c32: LoadResult; perRequest: SequentialResult; cpuSecondsPer10k: number | undefined }> {
  const s = await script(ctx, t);
  const url = t.url;
  const { sizes } = ctx;
  const warm = await wrk(ctx.tools.wrk, url, s, 32, sizes.warmupSeconds);
  served.n += warm.requests;
  const c1 = check(`${t.name} c=1`, await wrk(ctx.tools.wrk, url, s, 1, sizes.c1Seconds));
  served.n += c1.requests;
  const perRequest = await timeSequential(t, sizes.c1Seconds);
  served.n += perRequest.requests + SEQUENTIAL_WARMUP;
  const { load: c32, cpuSecondsPer10k } = await c32WithCpu(ctx, t, s, sizes.c32Seconds, `${t.name} c=32`);
  served.n += c32.requests;
  ctx.log(
    `  ${t.name}: c=1 p50 ${c1.p50Us} µs p99 ${c1.p99Us} µs ` +
      `(per request: p50 ${perRequest.p50Us} p99 ${perRequest.p99Us} p99.9 ${perRequest.p999Us}) · ` +
      `c=32 ${Math.round(c32.rps)} req/s p99 ${c32.p99Us} µs · errors ${c1.errors + c32.errors + perRequest.errors}`,
  );
  return { c1, c32, perRequest, cpuSecondsPer10k };
}

/** More requests at concurrency 32 until the hop has served `total` (bounded: three top-ups, 90 s each). */
async function burstTo(ctx: Ctx, t: Target, served: { n: number }, total: number, rps: number): Promise<void> {
  const s = await script(ctx, t);
  for (let i = 0; i < 3 && served.n < total; i++) {
    const seconds = Math.min(90, Math.max(1, Math.ceil(((total - served.n) / rps) * 1.1)));
    const r = await wrk(ctx.tools.wrk, t.url, s, 32, seconds);
    served.n += r.requests;
    if (r.errors > 0) throw new Error(`${t.name}: ${r.errors} errors in the burst`);
  }
}

async function streamTiming(ctx: Ctx, t: Target): Promise<StreamTiming> {
  const streamTarget: StreamTarget = { url: t.url, path: t.path, headers: t.headers, body: requestBody(true) };
  const r = await timeStreams(streamTarget, {
    streams: ctx.sizes.streams,
    events: ctx.sizes.streamEvents,
    spacingMs: ctx.sizes.spacingMs,
  });
  ctx.log(
    `  ${t.name}: stream ttfb ${r.ttfbMs.toFixed(2)} ms · ` +
      `event delay p50 ${r.delayP50Ms.toFixed(3)} p99 ${r.delayP99Ms.toFixed(3)} ms · gap ${r.gapMeanMs.toFixed(2)} ms`,
  );
  return r;
}

async function holdStreams(
  ctx: Ctx,
  t: Target,
): Promise<{ mem: Memory; open: { wanted: number; open: number; failed: number; seconds: number } }> {
  const pid = t.pid() as number;
  const streamTarget: StreamTarget = { url: t.url, path: t.path, headers: t.headers, body: requestBody(true) };
  const held = await openStreams(streamTarget, ctx.sse, ctx.sizes.openStreams, 60_000);
  await sleep(1_000); // let the hop settle with every stream open
  const mem = memory(pid);
  const done = await held.finish();
  ctx.log(
    `  ${t.name}: ${held.open}/${ctx.sizes.openStreams} streams open in ${held.secondsToOpen.toFixed(1)} s ` +
      `(failed ${held.failed}, completed ${done.completed}) · RSS ${mem.rssMiB} MiB`,
  );
  return {
    mem,
    open: { wanted: ctx.sizes.openStreams, open: held.open, failed: held.failed, seconds: held.secondsToOpen },
  };
}

async function startupRuns(
  runs: number,
  start: () => Promise<{ readyMs: number; stop(): Promise<void> }>,
): Promise<{ median: number; runs: number[] }> {
  const out: number[] = [];
  for (let i = 0; i < runs; i++) {
    const p = await start();
    out.push(Math.round(p.readyMs * 10) / 10);
    await p.stop();
  }
  return { median: median(out), runs: out };
}

function shimTarget(shim: Shim): Target {
  return {
    name: 'shim',
    url: shim.url,
    path: PATH,
    headers: agentHeaders(),
    body: requestBody(false),
    pid: () => shim.pid,
  };
}

/** Measures the sidecar itself: the same sequence for the main row and for each flag variant. */
async function measureShim(
  ctx: Ctx,
  flags: readonly string[],
  main: boolean,
): Promise<{ hop?: HopResult; variant: FlagVariantResult }> {
  // The main row runs as an injected pod does (the injector's NODE_OPTIONS plus the image's flag);
  // the variants run with their flags alone, so the table compares flags, not flags on top of a cap.
  const start = (): Promise<Shim> =>
    startShim({
      upstreamUrl: ctx.upstream.url,
      litellmKeyFile: ctx.keyFile,
      nodeFlags: flags,
      logFile: join(ctx.dir, 'shim.log'),
      upstreamConnections: ctx.sizes.openStreams + 100,
      injectedNodeOptions: main,
    });
  const startup = await startupRuns(main ? ctx.sizes.startupRuns : Math.min(5, ctx.sizes.startupRuns), start);
  const shim = await start();
  try {
    await sleep(1_000);
    const idle = memory(shim.pid);
    const t = shimTarget(shim);
    const served = { n: 0 };
    const l = await load(ctx, t, served);
    const large = main ? await largeBody(ctx, t, served) : undefined;
    await burstTo(ctx, t, served, ctx.sizes.burstRequests, l.c32.rps);
    await sleep(500);
    const burst = memory(shim.pid);
    ctx.log(
      `  shim ${flags.join(' ') || '(no flags)'}: idle ${idle.rssMiB} MiB · ` +
        `after ${served.n} requests ${burst.rssMiB} MiB · start-up ${startup.median} ms`,
    );
    const stream = main ? await streamTiming(ctx, t) : undefined;
    const held = await holdStreams(ctx, t);
    const peak = peakRssBytes(shim.pid);
    const died =
      shim.child.exitCode !== null || shim.child.signalCode !== null
        ? `exit ${shim.child.exitCode ?? shim.child.signalCode} with ${held.open.open} streams open`
        : undefined;
    const variant: FlagVariantResult = {
      ...(died === undefined ? {} : { died }),
      flags,
      startupMs: startup.median,
      rssIdleMiB: idle.rssMiB,
      rssAfterBurstMiB: burst.rssMiB,
      rssOpenStreamsMiB: held.mem.rssMiB,
      peakRssMiB: mib(peak),
      anonAfterBurstMiB: burst.anonMiB,
      anonOpenStreamsMiB: held.mem.anonMiB,
      rps: Math.round(l.c32.rps),
      p99C32Us: l.c32.p99Us,
      cpuSecondsPer10k: round3(l.cpuSecondsPer10k ?? Number.NaN),
    };
    if (stream === undefined) return { variant };
    return {
      variant,
      hop: {
        label: `auth-shim proxy (node ${[...flags, 'dist/cli.js proxy'].join(' ')})`,
        c1: l.c1,
        c32: l.c32,
        perRequest: l.perRequest,
        stream,
        burstRequests: served.n,
        ...(large === undefined ? {} : { largeBody: large }),
        ...memoryFields(idle, burst, held.mem),
        openStreams: held.open,
        peakRssMiB: mib(peak),
        ...(l.cpuSecondsPer10k === undefined ? {} : { cpuSecondsPer10k: round3(l.cpuSecondsPer10k) }),
        startupMs: startup,
      },
    };
  } finally {
    await shim.stop();
  }
}

function round3(n: number): number {
  return Math.round(n * 1000) / 1000;
}

/** A hop's three memory readings (idle, after the burst, with streams open) as result fields. */
function memoryFields(
  idle: Memory,
  burst: Memory,
  streams: Memory,
): Pick<
  HopResult,
  'rssIdleMiB' | 'anonIdleMiB' | 'rssAfterBurstMiB' | 'anonAfterBurstMiB' | 'rssOpenStreamsMiB' | 'anonOpenStreamsMiB'
> {
  return {
    rssIdleMiB: idle.rssMiB,
    anonIdleMiB: idle.anonMiB,
    rssAfterBurstMiB: burst.rssMiB,
    anonAfterBurstMiB: burst.anonMiB,
    rssOpenStreamsMiB: streams.rssMiB,
    anonOpenStreamsMiB: streams.anonMiB,
  };
}

async function measureNginx(ctx: Ctx): Promise<HopResult> {
  const start = async (): Promise<Nginx & { readyMs: number }> => {
    const port = await freePort();
    const upstreamPort = Number(new URL(ctx.upstream.url).port);
    return startNginx(
      ctx.tools.nginx,
      join(ctx.dir, `nginx-proxy-${port}`),
      proxyConfig(join(ctx.dir, `nginx-proxy-${port}`), port, upstreamPort, LITELLM_KEY),
      port,
    );
  };
  const startup = await startupRuns(ctx.sizes.startupRuns, start);
  const nginx = await start();
  try {
    await sleep(1_000);
    const pid = nginx.child.pid as number;
    const idle = memory(pid);
    const t: Target = {
      name: 'nginx',
      url: nginx.url,
      path: PATH,
      headers: agentHeaders(),
      body: requestBody(false),
      pid: () => pid,
    };
    const served = { n: 0 };
    const l = await load(ctx, t, served);
    const large = await largeBody(ctx, t, served);
    await burstTo(ctx, t, served, ctx.sizes.burstRequests, l.c32.rps);
    const burst = memory(pid);
    const stream = await streamTiming(ctx, t);
    const held = await holdStreams(ctx, t);
    return {
      label: 'nginx (same header rewrite, 1 worker, keep-alive upstream, no buffering)',
      c1: l.c1,
      c32: l.c32,
      perRequest: l.perRequest,
      stream,
      burstRequests: served.n,
      ...(large === undefined ? {} : { largeBody: large }),
      ...memoryFields(idle, burst, held.mem),
      openStreams: held.open,
      peakRssMiB: mib(peakRssBytes(pid)),
      ...(l.cpuSecondsPer10k === undefined ? {} : { cpuSecondsPer10k: round3(l.cpuSecondsPer10k) }),
      startupMs: startup,
    };
  } finally {
    await nginx.stop();
  }
}

/** LiteLLM's pid, found by the port its CLI was told to listen on (startLitellm does not expose it). */
function litellmPid(origin: string): number | undefined {
  const port = new URL(origin).port;
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    try {
      const argv = readFileSync(`/proc/${name}/cmdline`, 'utf8').split('\0');
      const i = argv.indexOf('--port');
      if (i >= 0 && argv[i + 1] === port && argv.some((a) => a.endsWith('/litellm'))) return Number(name);
    } catch {
      // raced with an exit
    }
  }
  return undefined;
}

async function measureLitellm(ctx: Ctx): Promise<HopResult> {
  ctx.log(`  LiteLLM ${LITELLM_NEW}: installing into .peers/ if needed …`);
  await ensureLitellm(LITELLM_NEW);
  const runs: number[] = [];
  for (let i = 0; i < ctx.sizes.litellmStartupRuns; i++) {
    const t0 = performance.now();
    const l = await startLitellm(LITELLM_NEW, ctx.upstream.url);
    runs.push(Math.round(performance.now() - t0));
    await l.stop();
  }
  const litellm: Litellm = await startLitellm(LITELLM_NEW, ctx.upstream.url);
  try {
    const pid = litellmPid(litellm.origin);
    await sleep(1_000);
    const idle = pid === undefined ? undefined : memory(pid);
    const t: Target = {
      name: 'litellm',
      url: litellm.origin,
      path: `/anthropic${PATH}`,
      headers: translatedHeaders(litellm.masterKey),
      body: requestBody(false),
      pid: () => pid,
    };
    const served = { n: 0 };
    const l = await load(ctx, t, served);
    if (ctx.sizes.litellmBurstSeconds > 0) {
      const r = await wrk(ctx.tools.wrk, t.url, await script(ctx, t), 32, ctx.sizes.litellmBurstSeconds);
      served.n += r.requests;
    }
    const burst = pid === undefined ? undefined : memory(pid);
    const stream = await streamTiming(ctx, t);
    const held = pid === undefined ? undefined : await holdStreams(ctx, t);
    return {
      label: `LiteLLM ${LITELLM_NEW} /anthropic (1 worker, no database)`,
      c1: l.c1,
      c32: l.c32,
      perRequest: l.perRequest,
      stream,
      burstRequests: served.n,
      ...(idle === undefined || burst === undefined || held === undefined
        ? {}
        : { ...memoryFields(idle, burst, held.mem), openStreams: held.open }),
      ...(l.cpuSecondsPer10k === undefined ? {} : { cpuSecondsPer10k: round3(l.cpuSecondsPer10k) }),
      ...(runs.length === 0 ? {} : { startupMs: { median: median(runs), runs } }),
    };
  } finally {
    await litellm.stop();
  }
}

async function machine(tools: Tools, loadAtStart: number): Promise<Record<string, string | number>> {
  const cpuinfo = readFileSync('/proc/cpuinfo', 'utf8');
  const model = /^model name\s*:\s*(.+)$/m.exec(cpuinfo)?.[1] ?? cpus()[0]?.model ?? 'unknown';
  const osRelease = readFileSync('/etc/os-release', 'utf8');
  const { stdout: kernel } = await execFileP('uname', ['-r']);
  const { stdout: nproc } = await execFileP('nproc');
  return {
    nproc: Number(nproc.trim()),
    cpuModel: model,
    memoryGiB: Math.round(totalmem() / 2 ** 30),
    os: /^PRETTY_NAME="?([^"\n]+)"?$/m.exec(osRelease)?.[1] ?? 'linux',
    kernel: kernel.trim(),
    node: process.version,
    nginx: await nginxVersion(tools.nginx),
    wrk: await wrkVersion(tools.wrk),
    litellm: LITELLM_NEW,
    // Other work on the machine shows up in every number; the bench records how busy it was.
    loadAverage: `${loadAtStart.toFixed(2)} / ${(loadavg()[0] ?? 0).toFixed(2)}`,
  };
}

/** Runs every measurement; every process it starts is stopped before it returns or throws. */
export async function runBench(opts: BenchOptions): Promise<BenchResults> {
  const began = performance.now();
  const loadAtStart = loadavg()[0] ?? 0;
  const { log, sizes } = opts;
  const full = sizes !== SMOKE;
  const tools = await ensureTools(log);
  const dir = await mkdtemp(join(tmpdir(), 'auth-shim-bench-'));
  const onExit = (): void => killAllOwned();
  process.once('exit', onExit);
  let sse: SseFake | undefined;
  let upstream: Nginx | undefined;
  try {
    sse = await startSseFake();
    const upPort = await freePort();
    upstream = await startNginx(
      tools.nginx,
      join(dir, 'nginx-upstream'),
      upstreamConfig(join(dir, 'nginx-upstream'), upPort, sse.port),
      upPort,
    );
    const keyFile = join(dir, 'litellm-key');
    await writeFile(keyFile, `${LITELLM_KEY}\n`);
    const ctx: Ctx = { tools, dir, sizes, upstream, sse, keyFile, log, scripts: new Map() };
    const hops: Partial<Record<HopName, HopResult>> = {};

    log('direct to the fake upstream (the floor) …');
    const upPid = upstream.child.pid as number;
    const direct: Target = {
      name: 'direct',
      url: upstream.url,
      path: PATH,
      headers: translatedHeaders(LITELLM_KEY),
      body: requestBody(false),
      pid: () => upPid,
    };
    const dl = await load(ctx, direct, { n: 0 });
    const dlarge = await largeBody(ctx, direct, { n: 0 });
    hops.direct = {
      label: 'direct to the fake upstream (nginx fixed JSON; the floor)',
      c1: dl.c1,
      c32: dl.c32,
      perRequest: dl.perRequest,
      stream: await streamTiming(ctx, direct),
      ...(dlarge === undefined ? {} : { largeBody: dlarge }),
      ...(dl.cpuSecondsPer10k === undefined ? {} : { cpuSecondsPer10k: round3(dl.cpuSecondsPer10k) }),
    };

    log(`auth-shim proxy (${RECOMMENDED_FLAGS.join(' ') || 'no flags'}) …`);
    const shim = await measureShim(ctx, RECOMMENDED_FLAGS, true);
    if (shim.hop !== undefined) hops.shim = shim.hop;
    log('nginx doing the same rewrite …');
    hops.nginx = await measureNginx(ctx);

    if (opts.litellm) {
      log(`LiteLLM ${LITELLM_NEW} /anthropic …`);
      hops.litellm = await measureLitellm(ctx);
    }

    let flagVariants: FlagVariantResult[] | undefined;
    if (opts.flagVariants) {
      log('V8 flag variants of auth-shim proxy …');
      flagVariants = [];
      for (const flags of FLAG_VARIANTS) flagVariants.push((await measureShim(ctx, flags, false)).variant);
    }

    return {
      generatedAt: new Date().toISOString(),
      mode: full ? 'full' : 'smoke',
      seconds: Math.round((performance.now() - began) / 1000),
      machine: await machine(tools, loadAtStart),
      setup: {
        upstream:
          'nginx, 1 worker, `return 200` of a fixed ~400-byte Anthropic message (with usage); ' +
          'streamed requests routed to the SSE fake',
        sseFake:
          'node:http in the bench process; each event carries the performance.now() it was written at, ' +
          "so the client (same process, same clock) reads each event's one-way delay",
        load: 'wrk -t1 (closed loop), a Claude-Code-shaped POST /v1/messages?beta=true: 18 headers, ~1.9 KB JSON body',
        shimUpstreamConnections: String(sizes.openStreams + 100),
        shimNodeOptions: nodeOptions(INJECTOR_OPTIONS.memoryLimit.default),
        installedByBench: tools.installed.join(' ') || 'nothing (nginx and wrk were present)',
      },
      shimFlags: RECOMMENDED_FLAGS,
      hops,
      ...(flagVariants === undefined ? {} : { flagVariants }),
    };
  } finally {
    await sse?.close();
    await upstream?.stop();
    killAllOwned();
    process.off('exit', onExit);
    await rm(dir, { recursive: true, force: true });
  }
}
