import type { BenchResults, FlagVariantResult, HopName, HopResult } from './bench.js';

/*
 * docs/PERFORMANCE.md and docs/performance.svg from one results file. Everything a reader sees is
 * computed here from bench/results/latest.json, so re-rendering (`npm run bench -- --render`)
 * never drifts from the numbers.
 */

const HOPS: ReadonlyArray<readonly [HopName, string]> = [
  ['direct', 'direct (floor)'],
  ['shim', 'auth-shim'],
  ['nginx', 'nginx'],
  ['litellm', 'LiteLLM /anthropic'],
];

export interface Target {
  readonly name: string;
  readonly want: string;
  readonly got: string;
  readonly met: boolean;
  /** How far off, in the target's own terms, when missed. */
  readonly miss?: string;
}

const fmt = (n: number | undefined, digits = 0): string =>
  n === undefined || Number.isNaN(n)
    ? '—'
    : n.toLocaleString('en-US', { minimumFractionDigits: digits, maximumFractionDigits: digits });
const ratio = (a: number | undefined, b: number | undefined, digits = 2): string =>
  a === undefined || b === undefined || b === 0 || Number.isNaN(a) || Number.isNaN(b) ? '—' : `${fmt(a / b, digits)}×`;

export interface Added {
  /** Concurrency 1 from wrk (its percentiles are corrected for coordinated omission). */
  p50c1: number;
  p99c1: number;
  /** Concurrency 1, every request timed by the bench's own client, no correction. */
  seqP50: number;
  seqP99: number;
  seqP999: number;
  p50c32: number;
  p99c32: number;
  eventP99: number;
}

export function added(h: HopResult | undefined, d: HopResult | undefined): Added | undefined {
  if (h === undefined || d === undefined) return undefined;
  const seq = (f: (x: NonNullable<HopResult['perRequest']>) => number): number =>
    h.perRequest === undefined || d.perRequest === undefined ? Number.NaN : f(h.perRequest) - f(d.perRequest);
  return {
    p50c1: h.c1.p50Us - d.c1.p50Us,
    p99c1: h.c1.p99Us - d.c1.p99Us,
    seqP50: seq((x) => x.p50Us),
    seqP99: seq((x) => x.p99Us),
    seqP999: seq((x) => x.p999Us),
    p50c32: h.c32.p50Us - d.c32.p50Us,
    p99c32: h.c32.p99Us - d.c32.p99Us,
    eventP99: h.stream.delayP99Ms - d.stream.delayP99Ms,
  };
}

/** The issue's targets, checked against one run. */
export function targets(r: BenchResults): Target[] {
  const { direct, shim, nginx, litellm } = r.hops;
  const a = added(shim, direct);
  if (shim === undefined || a === undefined) return [];
  const out: Target[] = [];
  const push = (
    name: string,
    want: string,
    value: number | undefined,
    limit: number,
    unit: string,
    higherIsBetter = false,
  ): void => {
    if (value === undefined || Number.isNaN(value)) {
      out.push({ name, want, got: 'not measured', met: false });
      return;
    }
    const met = higherIsBetter ? value >= limit : value <= limit;
    const off = higherIsBetter
      ? `${fmt(limit - value, unit === '%' || unit === '×' ? 1 : 0)} ${unit} short`
      : `${fmt(value - limit, unit === 'ms' ? 2 : unit === 'MiB' ? 1 : 0)} ${unit} over ` +
        `(${fmt((value / limit) * 100 - 100, 0)} %)`;
    out.push({
      name,
      want,
      got: `${fmt(value, unit === 'ms' ? 2 : unit === 'MiB' || unit === '%' || unit === '×' ? 1 : 0)} ${unit}`,
      met,
      ...(met ? {} : { miss: off }),
    });
  };
  push('added latency p50, concurrency 1 (every request timed)', '≤ 100 µs', a.seqP50, 100, 'µs');
  push('added latency p99, concurrency 1 (every request timed)', '≤ 1,000 µs', a.seqP99, 1000, 'µs');
  push('added latency p50, concurrency 1 (wrk, corrected for coordinated omission)', '≤ 100 µs', a.p50c1, 100, 'µs');
  push('added latency p99, concurrency 1 (wrk, corrected for coordinated omission)', '≤ 1,000 µs', a.p99c1, 1000, 'µs');
  push(
    'throughput at concurrency 32, share of nginx',
    '≥ 50 %',
    nginx === undefined ? undefined : (shim.c32.rps / nginx.c32.rps) * 100,
    50,
    '%',
    true,
  );
  push("streamed events re-timed (event delay p99 over the floor's)", '≤ 1 ms', a.eventP99, 1, 'ms');
  push('RSS idle (VmRSS)', '≤ 50 MiB', shim.rssIdleMiB, 50, 'MiB');
  push('RSS idle, anonymous part (RssAnon)', '≤ 50 MiB', shim.anonIdleMiB, 50, 'MiB');
  push(`RSS after ${fmt(shim.burstRequests)} requests (VmRSS)`, '≤ 96 MiB', shim.rssAfterBurstMiB, 96, 'MiB');
  push(`RSS after ${fmt(shim.burstRequests)} requests, anonymous part`, '≤ 96 MiB', shim.anonAfterBurstMiB, 96, 'MiB');
  push(`RSS with ${fmt(shim.openStreams?.wanted)} open streams (VmRSS)`, '≤ 96 MiB', shim.rssOpenStreamsMiB, 96, 'MiB');
  push(
    `RSS with ${fmt(shim.openStreams?.wanted)} open streams, anonymous part`,
    '≤ 96 MiB',
    shim.anonOpenStreamsMiB,
    96,
    'MiB',
  );
  push('start-up to /readyz 200 (median)', '≤ 300 ms', shim.startupMs?.median, 300, 'ms');
  const la = added(litellm, direct);
  push(
    'less added latency than LiteLLM (p50, concurrency 1, every request timed)',
    '≥ 20×',
    la === undefined ? undefined : la.seqP50 / Math.max(1, a.seqP50),
    20,
    '×',
    true,
  );
  return out;
}

function row(cells: readonly string[]): string {
  return `| ${cells.join(' | ')} |`;
}

function resultsTable(r: BenchResults): string {
  const present = HOPS.filter(([k]) => r.hops[k] !== undefined);
  const d = r.hops.direct;
  const lines: string[] = [row(['', ...present.map(([, l]) => l)]), row(['---', ...present.map(() => '---:')])];
  const line = (label: string, f: (h: HopResult, k: HopName) => string): void => {
    lines.push(row([label, ...present.map(([k]) => f(r.hops[k] as HopResult, k))]));
  };
  const addedOf = (h: HopResult, k: HopName) => (k === 'direct' ? undefined : added(h, d));
  line('latency p50 / p99 / p99.9, c=1, every request timed (µs)', (h) =>
    h.perRequest === undefined
      ? '—'
      : `${fmt(h.perRequest.p50Us)} / ${fmt(h.perRequest.p99Us)} / ${fmt(h.perRequest.p999Us)}`,
  );
  line('**added** p50 / p99 / p99.9, c=1, every request timed (µs)', (h, k) =>
    k === 'direct'
      ? '0 / 0 / 0'
      : `**${fmt(addedOf(h, k)?.seqP50)} / ${fmt(addedOf(h, k)?.seqP99)}** / ${fmt(addedOf(h, k)?.seqP999)}`,
  );
  line('… requests timed', (h) => fmt(h.perRequest?.requests));
  line('latency p50 / p99, c=1, wrk (µs)', (h) => `${fmt(h.c1.p50Us)} / ${fmt(h.c1.p99Us)}`);
  line('added p50 / p99, c=1, wrk (µs)', (h, k) =>
    k === 'direct' ? '0 / 0' : `${fmt(addedOf(h, k)?.p50c1)} / ${fmt(addedOf(h, k)?.p99c1)}`,
  );
  line('latency p50 / p99, c=32 (µs)', (h) => `${fmt(h.c32.p50Us)} / ${fmt(h.c32.p99Us)}`);
  line('added p50 / p99, c=32 (µs)', (h, k) =>
    k === 'direct' ? '0 / 0' : `${fmt(addedOf(h, k)?.p50c32)} / ${fmt(addedOf(h, k)?.p99c32)}`,
  );
  line('**throughput, c=32 (req/s)**', (h) => `**${fmt(h.c32.rps)}**`);
  line('… share of the floor', (h) => ratio(h.c32.rps * 100, d?.c32.rps, 0).replace('×', ' %'));
  line('… share of nginx', (h) => ratio(h.c32.rps * 100, r.hops.nginx?.c32.rps, 0).replace('×', ' %'));
  const large = r.hops.shim?.largeBody;
  if (large !== undefined) {
    line(`throughput, c=32, ${large.kib} KiB conversation (req/s)`, (h) =>
      h.largeBody === undefined ? '—' : fmt(h.largeBody.load.rps),
    );
    line('… share of nginx', (h) =>
      h.largeBody === undefined
        ? '—'
        : ratio(h.largeBody.load.rps * 100, r.hops.nginx?.largeBody?.load.rps, 0).replace('×', ' %'),
    );
    line(`… CPU seconds per 10k requests`, (h, k) =>
      h.largeBody?.cpuSecondsPer10k === undefined
        ? '—'
        : `${fmt(h.largeBody.cpuSecondsPer10k, 2)}${k === 'direct' ? ' (upstream)' : ''}`,
    );
  }
  line('stream: time to first event (ms)', (h) => fmt(h.stream.ttfbMs, 2));
  line('stream: event delay p50 / p99 (ms)', (h) => `${fmt(h.stream.delayP50Ms, 2)} / ${fmt(h.stream.delayP99Ms, 2)}`);
  line('stream: mean gap between 20 ms events (ms)', (h) => fmt(h.stream.gapMeanMs, 2));
  line('stream: **re-timing** p99 over the floor (ms)', (h, k) =>
    k === 'direct' ? '0' : `**${fmt(addedOf(h, k)?.eventP99, 2)}**`,
  );
  const anon = (v: number | undefined): string => (v === undefined ? '' : ` (anon ${fmt(v, 1)})`);
  line('RSS idle (MiB) (anonymous part)', (h) =>
    h.rssIdleMiB === undefined ? '—' : `${fmt(h.rssIdleMiB, 1)}${anon(h.anonIdleMiB)}`,
  );
  line('RSS after the burst (MiB) (anonymous part) [requests served]', (h) =>
    h.rssAfterBurstMiB === undefined
      ? '—'
      : `${fmt(h.rssAfterBurstMiB, 1)}${anon(h.anonAfterBurstMiB)} [${fmt(h.burstRequests)}]`,
  );
  line('RSS with open streams (MiB) (anonymous part) [open / wanted]', (h) =>
    h.rssOpenStreamsMiB === undefined
      ? '—'
      : `${fmt(h.rssOpenStreamsMiB, 1)}${anon(h.anonOpenStreamsMiB)} ` +
        `[${fmt(h.openStreams?.open)} / ${fmt(h.openStreams?.wanted)}]`,
  );
  line('peak RSS over the run (MiB)', (h) => fmt(h.peakRssMiB, 1));
  line('CPU seconds per 10k requests', (h, k) =>
    h.cpuSecondsPer10k === undefined ? '—' : `${fmt(h.cpuSecondsPer10k, 2)}${k === 'direct' ? ' (upstream)' : ''}`,
  );
  line('start-up to ready, median (ms)', (h) =>
    h.startupMs === undefined ? '—' : `${fmt(h.startupMs.median, 1)} (${h.startupMs.runs.length} runs)`,
  );
  line('failed requests', (h) => fmt(h.c1.errors + h.c32.errors + h.stream.errors));
  return lines.join('\n');
}

function ratiosTable(r: BenchResults): string {
  const { direct, shim, nginx, litellm } = r.hops;
  const a = added(shim, direct);
  const n = added(nginx, direct);
  const l = added(litellm, direct);
  const lines = [
    row(['ratio', 'value', 'meaning']),
    row(['---', '---:', '---']),
    row([
      'auth-shim latency p50 c=1 / floor',
      ratio(shim?.c1.p50Us, direct?.c1.p50Us, 1),
      'whole round trip through the shim vs. straight to the upstream',
    ]),
    row([
      'auth-shim added p50 c=1 / nginx added',
      ratio(a?.p50c1, n?.p50c1, 1),
      'what the shim costs per request compared with nginx doing the rewrite',
    ]),
    row([
      'LiteLLM added p50 c=1 / auth-shim added',
      ratio(l?.seqP50, a?.seqP50, 0),
      'target ≥ 20× (every request timed)',
    ]),
    row(['LiteLLM added p99 c=1 / auth-shim added', ratio(l?.seqP99, a?.seqP99, 0), 'every request timed']),
    row(['auth-shim throughput / floor', ratio(shim?.c32.rps, direct?.c32.rps), 'c=32']),
    row(['auth-shim throughput / nginx', ratio(shim?.c32.rps, nginx?.c32.rps), 'target ≥ 0.5×']),
    row(['auth-shim throughput / LiteLLM', ratio(shim?.c32.rps, litellm?.c32.rps, 0), '']),
    row(['auth-shim CPU per request / nginx', ratio(shim?.cpuSecondsPer10k, nginx?.cpuSecondsPer10k, 1), '']),
    row(['auth-shim RSS idle / nginx', ratio(shim?.rssIdleMiB, nginx?.rssIdleMiB, 1), '']),
    row(['LiteLLM RSS idle / auth-shim', ratio(litellm?.rssIdleMiB, shim?.rssIdleMiB, 1), '']),
  ];
  return lines.join('\n');
}

function targetsTable(t: readonly Target[]): string {
  return [
    row(['target', 'wanted', 'measured', 'met']),
    row(['---', '---', '---:', '---']),
    ...t.map((x) => row([x.name, x.want, x.got, x.met ? 'yes' : `**no** — ${x.miss ?? ''}`])),
  ].join('\n');
}

function variantsTable(v: readonly FlagVariantResult[]): string {
  return [
    row([
      'node flags',
      'start-up (ms)',
      'RSS idle',
      'RSS after burst (anon)',
      'RSS open streams (anon)',
      'peak RSS',
      'req/s c=32',
      'p99 c=32 (µs)',
      'CPU s / 10k',
    ]),
    row(['---', '---:', '---:', '---:', '---:', '---:', '---:', '---:', '---:']),
    ...v.map((x) =>
      row([
        x.flags.length === 0 ? '(none)' : `\`${x.flags.join(' ')}\``,
        fmt(x.startupMs, 1),
        fmt(x.rssIdleMiB, 1),
        `${fmt(x.rssAfterBurstMiB, 1)} (${fmt(x.anonAfterBurstMiB, 1)})`,
        x.died !== undefined || x.rssOpenStreamsMiB === 0
          ? `**died** ${x.died ?? '(no process left to measure)'}`
          : `${fmt(x.rssOpenStreamsMiB, 1)} (${fmt(x.anonOpenStreamsMiB, 1)})`,
        x.died !== undefined ? '—' : fmt(x.peakRssMiB, 1),
        fmt(x.rps),
        fmt(x.p99C32Us),
        fmt(x.cpuSecondsPer10k, 2),
      ]),
    ),
  ].join('\n');
}

// ---------------------------------------------------------------------------------------------
// The chart: three panels of horizontal bars, drawn by hand (no plotting library).

interface Bar {
  readonly label: string;
  readonly value: number | undefined;
  readonly color: string;
}

interface Group {
  readonly name: string;
  readonly bars: readonly Bar[];
}

const COLORS: Record<HopName, string> = { direct: '#9e9e9e', shim: '#1f77b4', nginx: '#2ca02c', litellm: '#d62728' };
const esc = (s: string): string => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');

function panel(
  y0: number,
  title: string,
  unit: string,
  groups: readonly Group[],
  log: boolean,
): { svg: string; height: number } {
  const left = 190;
  const width = 520;
  const barH = 13;
  const values = groups.flatMap((g) => g.bars.map((b) => b.value ?? 0)).filter((v) => v > 0);
  const max = Math.max(1, ...values);
  const min = log ? Math.max(1, Math.min(...values, max)) : 0;
  const lo = log ? 10 ** Math.floor(Math.log10(min)) : 0;
  const hi = log ? 10 ** Math.ceil(Math.log10(max)) : max * 1.15;
  const x = (v: number): number =>
    log
      ? ((Math.log10(Math.max(v, lo)) - Math.log10(lo)) / (Math.log10(hi) - Math.log10(lo))) * width
      : (v / hi) * width;
  const parts: string[] = [`<text x="10" y="${y0 + 16}" font-size="14" font-weight="bold">${esc(title)}</text>`];
  let y = y0 + 30;
  for (const g of groups) {
    parts.push(`<text x="10" y="${y + 10}" font-size="12">${esc(g.name)}</text>`);
    for (const b of g.bars) {
      const w = b.value === undefined || b.value <= 0 ? 0 : Math.max(1, x(b.value));
      parts.push(
        `<text x="${left - 6}" y="${y + 10}" font-size="10" text-anchor="end" fill="#555">${esc(b.label)}</text>`,
      );
      parts.push(`<rect x="${left}" y="${y}" width="${w.toFixed(1)}" height="${barH}" fill="${b.color}"/>`);
      const label = b.value === undefined ? 'n/a' : `${fmt(b.value, b.value < 10 ? 1 : 0)} ${esc(unit)}`;
      parts.push(`<text x="${left + w + 4}" y="${y + 10}" font-size="10">${label}</text>`);
      y += barH + 3;
    }
    y += 8;
  }
  const ticks = log
    ? Array.from({ length: Math.round(Math.log10(hi / lo)) + 1 }, (_, i) => lo * 10 ** i)
    : [0, hi / 4, hi / 2, (3 * hi) / 4];
  for (const t of ticks) {
    const tx = left + x(t);
    parts.push(`<line x1="${tx.toFixed(1)}" y1="${y0 + 24}" x2="${tx.toFixed(1)}" y2="${y}" stroke="#ddd"/>`);
    parts.push(
      `<text x="${tx.toFixed(1)}" y="${y + 11}" font-size="9" text-anchor="middle" fill="#777">${fmt(t)}</text>`,
    );
  }
  parts.push(
    `<text x="${left + width}" y="${y + 24}" font-size="9" text-anchor="end" fill="#777">` +
      `${esc(unit)}${log ? ', log scale' : ''}</text>`,
  );
  return { svg: parts.join('\n'), height: y + 30 - y0 };
}

export function renderChart(r: BenchResults): string {
  const d = r.hops.direct;
  const hopsNoFloor = HOPS.filter(([k]) => k !== 'direct' && r.hops[k] !== undefined);
  const all = HOPS.filter(([k]) => r.hops[k] !== undefined);
  const bars = (list: typeof HOPS, f: (h: HopResult) => number | undefined): Bar[] =>
    list.map(([k, l]) => ({ label: l, value: f(r.hops[k] as HopResult), color: COLORS[k] }));
  const p1 = panel(
    0,
    'Added latency at concurrency 1, every request timed (lower is better)',
    'µs',
    [
      { name: 'p50', bars: bars(hopsNoFloor, (h) => added(h, d)?.seqP50) },
      { name: 'p99', bars: bars(hopsNoFloor, (h) => added(h, d)?.seqP99) },
      { name: 'p99.9', bars: bars(hopsNoFloor, (h) => added(h, d)?.seqP999) },
    ],
    true,
  );
  const p2 = panel(
    p1.height,
    'Throughput at concurrency 32 (higher is better)',
    'req/s',
    [{ name: 'c=32', bars: bars(all, (h) => h.c32.rps) }],
    false,
  );
  const p3 = panel(
    p1.height + p2.height,
    'Resident memory (lower is better)',
    'MiB',
    [
      { name: 'idle', bars: bars(hopsNoFloor, (h) => h.rssIdleMiB) },
      { name: 'after burst', bars: bars(hopsNoFloor, (h) => h.rssAfterBurstMiB) },
      { name: '… anonymous', bars: bars(hopsNoFloor, (h) => h.anonAfterBurstMiB) },
      { name: 'open streams', bars: bars(hopsNoFloor, (h) => h.rssOpenStreamsMiB) },
      { name: '… anonymous', bars: bars(hopsNoFloor, (h) => h.anonOpenStreamsMiB) },
    ],
    true,
  );
  const height = p1.height + p2.height + p3.height + 10;
  const size = `width="800" height="${height}" viewBox="0 0 800 ${height}"`;
  return `<svg xmlns="http://www.w3.org/2000/svg" ${size} font-family="sans-serif">
<rect width="800" height="${height}" fill="white"/>
${p1.svg}
${p2.svg}
${p3.svg}
</svg>
`;
}

// ---------------------------------------------------------------------------------------------

function machine(r: BenchResults): string {
  const m = r.machine;
  return [
    row(['', '']),
    row(['---', '---']),
    row(['cores (`nproc`)', String(m['nproc'])]),
    row(['CPU (/proc/cpuinfo)', String(m['cpuModel'])]),
    row(['memory', `${m['memoryGiB']} GiB`]),
    row(['OS / kernel', `${m['os']} / ${m['kernel']}`]),
    row(['Node.js (the `node` devDependency)', String(m['node'])]),
    row(['nginx (Debian)', String(m['nginx'])]),
    row(['wrk (Debian)', String(m['wrk'])]),
    row(['LiteLLM (PyPI, `litellm[proxy]`)', String(m['litellm'])]),
    ...(m['loadAverage'] === undefined ? [] : [row(['load average at start / end (1 min)', String(m['loadAverage'])])]),
  ].join('\n');
}

export function renderPerformanceDoc(r: BenchResults, notes: string): string {
  const t = targets(r);
  const missed = t.filter((x) => !x.met);
  const minutes = Math.max(1, Math.round(r.seconds / 60));
  const verdict =
    missed.length === 0
      ? 'Every target is met.'
      : `${missed.length} of ${t.length} targets missed; why, and what it would take:`;
  return `# Performance

auth-shim sits in every agent pod, so every pod pays for it in memory and every request in latency.
\`npm run bench\` measures it against what users would otherwise run — straight to the upstream (the
floor), nginx doing the same header rewrite, and LiteLLM's \`/anthropic\` route — in one run on one machine.
The numbers below are from \`bench/results/latest.json\` (${r.generatedAt}, ${r.seconds} s); this page is
generated from it (\`npm run bench -- --render\` re-renders without measuring).

\`\`\`sh
npm ci
npm run bench              # ~${minutes} min; installs nginx and wrk with apt-get if missing (root or sudo -n),
                           # LiteLLM ${r.machine['litellm']} into .peers/ (PyPI) on first use
npm run bench -- --smoke   # ~30 s CI variant (test/bench/smoke.test.ts): fails only on gross regressions
npm run bench -- --no-litellm --no-flags   # the quick local loop
npm run bench:ab -- /tmp/before/cli.js dist/cli.js   # A/B of two builds, interleaved rounds (bench/ab.ts)
\`\`\`

## Machine

${machine(r)}

## Set-up

- **Fast upstream**: ${r.setup['upstream']}. nginx answers a fixed body far faster than the shim can
  forward, so the upstream is never what is measured.
- **Streams**: ${r.setup['sseFake']}. Events are written 20 ms apart.
- **Load**: ${r.setup['load']}; latency at concurrency 1 and 32 after a warm-up, throughput at 32.
  The body is under the 16 KiB below which auth-shim sends a body upstream with its head in one write
  (\`SMALL_BODY_BYTES\`); a longer conversation's body streams, so throughput is also measured with the
  same request padded to ${fmt(r.hops.shim?.largeBody?.kib)} KiB (${fmt(r.hops.shim?.largeBody?.bytes)} bytes, \
one more user turn of text).
- **Latency at concurrency 1 is measured twice.** wrk's percentiles are corrected for coordinated
  omission: after the run, wrk adds a synthetic sample for every expected interval (the run's mean
  time per request) that a slow response spanned, so one 5 ms pause at ~10k req/s becomes ~50 samples,
  the latency an open-loop client sending at the hop's full rate would have seen. An agent does the
  opposite: it sends a request, waits for the answer, thinks, sends the next. So the bench also times
  every request of a closed loop itself (undici, one connection, ${fmt(r.hops.shim?.perRequest?.requests ?? 0)} requests
  through the shim), with no correction; its own cost (~20–30 µs) is the same for every hop and cancels
  in the added latency. Both are in the table; the targets are checked against both.
- **auth-shim**: \`NODE_OPTIONS='${r.setup['shimNodeOptions'] ?? ''}' \
node ${r.shimFlags.join(' ')} dist/cli.js proxy\` \
— as an injected pod runs it (the injector's NODE_OPTIONS for the default 256Mi limit, the image's flag) —, \
defaults (log level \`info\`: one JSON
  line per request, to a file), the usage tap on, \
\`--upstream-connections ${r.setup['shimUpstreamConnections']}\` so that
  1,000 streams are really open upstream (the default, \`0\`, sets no limit at all).
- **nginx**: one worker (auth-shim is one process with one JavaScript thread), \`master_process off\`,
  keep-alive upstream, \`proxy_buffering off\`, \`proxy_request_buffering off\`; it maps \`x-api-key\` to
  \`Authorization: Bearer\`, merges the oauth beta and adds \`x-litellm-api-key\` — the rewrite for this
  request only: no prefix decision, no \`Connection\`/\`x-pass-*\` stripping, no fail-closed answers.
- **LiteLLM**: \`litellm --num_workers 1\`, no database, \`ANTHROPIC_API_BASE\` at the fake (test/e2e/_peers.ts);
  the client sends what auth-shim would send (Bearer token, \`x-litellm-api-key\`). Its burst is capped
  in time (it serves a few hundred requests a second), and its start-up is timed by \`/health/readiness\`
  polled every 250 ms.
- **Memory** is VmRSS of the process (and its children for LiteLLM) from /proc, and beside it the
  anonymous part (RssAnon: heap, stacks, allocator arenas). The rest is file-backed: mostly the
  executable's own pages (~50 MiB of the \`node\` binary), clean, shared through the page cache by
  every process that maps the same file, and the first thing the kernel reclaims under a cgroup's
  limit. CPU is utime+stime
  of the hop's own process(es) during the concurrency-32 run.
- Everything runs on loopback; every process the bench starts is stopped when it ends.

## Results

![added latency, throughput and memory per hop](performance.svg)

${resultsTable(r)}

### Ratios

${ratiosTable(r)}

## Targets (issue 9)

${targetsTable(t)}

${verdict}

${notes}

${
  r.flagVariants === undefined
    ? ''
    : `## V8 flags, measured

Each variant is a fresh \`auth-shim proxy\` taken through the same sequence (start-up × 5, idle,
c=1 and c=32 load, burst to ${fmt(r.hops.shim?.burstRequests ?? 100_000)} requests, 1,000 open streams). RSS in MiB.

${variantsTable(r.flagVariants)}
`
}`;
}
