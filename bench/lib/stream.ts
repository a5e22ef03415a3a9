import { Agent, createServer, request, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { percentile, median } from './proc.js';

/*
 * The streamed-response part of the bench. The SSE fake and the client live in the bench's own
 * process, so both read the same clock: every event carries the `performance.now()` at which the
 * fake wrote it, and the client subtracts that from the moment it read the event. That is each
 * event's one-way delay through a hop — independent of the fake's own timer jitter.
 */

export interface SseFake {
  readonly port: number;
  readonly held: () => number;
  /** Ends every held stream with `message_delta` + `message_stop`. */
  releaseAll(): void;
  close(): Promise<void>;
}

const ev = (name: string, data: Record<string, unknown>): string =>
  `event: ${name}\ndata: ${JSON.stringify({ type: name, ...data, bench_sent_ms: performance.now() })}\n\n`;

function start(res: ServerResponse): void {
  res.writeHead(200, {
    'content-type': 'text/event-stream; charset=utf-8',
    'cache-control': 'no-cache',
    'request-id': 'req_01benchstreambenchstream',
  });
  res.write(
    ev('message_start', {
      message: {
        id: 'msg_01benchstream',
        type: 'message',
        role: 'assistant',
        model: 'claude-sonnet-4-5',
        content: [],
        stop_reason: null,
        stop_sequence: null,
        usage: { input_tokens: 1210, cache_creation_input_tokens: 0, cache_read_input_tokens: 0, output_tokens: 1 },
      },
    }),
  );
  res.write(ev('content_block_start', { index: 0, content_block: { type: 'text', text: '' } }));
}

function end(res: ServerResponse): void {
  res.write(ev('content_block_stop', { index: 0 }));
  res.write(
    ev('message_delta', { delta: { stop_reason: 'end_turn', stop_sequence: null }, usage: { output_tokens: 24 } }),
  );
  res.end(ev('message_stop', {}));
}

/**
 * Timed mode (default): `x-bench-events` deltas, one every `x-bench-spacing-ms` on an absolute
 * schedule (no drift). Hold mode (`x-bench-hold: 1`): start the message, then a `ping` every 2 s
 * until `releaseAll()`.
 */
export async function startSseFake(): Promise<SseFake> {
  const held = new Set<ServerResponse>();
  const server: Server = createServer({ keepAliveTimeout: 75_000 }, (req, res) => {
    req.resume();
    req.on('end', () => {
      start(res);
      if (req.headers['x-bench-hold'] === '1') {
        held.add(res);
        const ping = setInterval(() => res.write(ev('ping', {})), 2_000);
        res.on('close', () => {
          clearInterval(ping);
          held.delete(res);
        });
        return;
      }
      const events = Math.min(500, Number(req.headers['x-bench-events'] ?? 25));
      const spacing = Math.min(1_000, Number(req.headers['x-bench-spacing-ms'] ?? 20));
      const t0 = performance.now();
      let i = 0;
      const tick = (): void => {
        if (res.destroyed) return;
        if (i === events) {
          end(res);
          return;
        }
        res.write(ev('content_block_delta', { index: 0, delta: { type: 'text_delta', text: ` token${i}` } }));
        i++;
        setTimeout(tick, Math.max(0, t0 + (i + 1) * spacing - performance.now()));
      };
      setTimeout(tick, spacing);
    });
  });
  server.maxConnections = 5_000;
  await new Promise<void>((r) => server.listen({ host: '127.0.0.1', port: 0, backlog: 4096 }, r));
  return {
    port: (server.address() as AddressInfo).port,
    held: () => held.size,
    releaseAll() {
      for (const res of held) end(res);
      held.clear();
    },
    close: () =>
      new Promise((r) => {
        server.closeAllConnections();
        server.close(() => r());
      }),
  };
}

export interface StreamTarget {
  readonly url: string;
  readonly path: string;
  readonly headers: ReadonlyArray<readonly [string, string]>;
  readonly body: string;
}

export interface StreamTiming {
  readonly streams: number;
  readonly events: number;
  /** Request written → first body byte, median over streams, ms. */
  readonly ttfbMs: number;
  /** Per-event delay (read − written), ms. */
  readonly delayP50Ms: number;
  readonly delayP99Ms: number;
  readonly delayMaxMs: number;
  /** |gap between consecutive deltas − spacing| at the client, ms. */
  readonly gapDevP50Ms: number;
  readonly gapDevP99Ms: number;
  /** Mean gap between consecutive deltas at the client (should be the spacing), ms. */
  readonly gapMeanMs: number;
  readonly errors: number;
}

/** Flat raw headers; node:http adds no `Host` to a raw list, so it comes first here. */
function headerList(url: URL, h: ReadonlyArray<readonly [string, string]>, extra: Record<string, string>): string[] {
  const out: string[] = ['Host', url.host];
  for (const [k, v] of h) out.push(k, v);
  for (const [k, v] of Object.entries(extra)) out.push(k, v);
  return out;
}

interface OneStream {
  ttfb: number;
  delays: number[];
  gaps: number[];
  complete: boolean;
}

function oneStream(t: StreamTarget, agent: Agent, events: number, spacingMs: number): Promise<OneStream> {
  return new Promise((resolve) => {
    const u = new URL(t.path, t.url);
    const out: OneStream = { ttfb: Number.NaN, delays: [], gaps: [], complete: false };
    let sent = 0;
    let rest = '';
    let lastDelta = Number.NaN;
    const headers = headerList(u, t.headers, {
      'content-length': String(Buffer.byteLength(t.body)),
      'x-bench-stream': '1',
      'x-bench-events': String(events),
      'x-bench-spacing-ms': String(spacingMs),
    });
    const req = request(u, { method: 'POST', agent, headers, timeout: 30_000 }, (res) => {
      if (res.statusCode !== 200) {
        res.resume();
        res.on('end', () => resolve(out));
        return;
      }
      res.setEncoding('utf8');
      res.on('data', (text: string) => {
        const now = performance.now();
        if (Number.isNaN(out.ttfb)) out.ttfb = now - sent;
        rest += text;
        const cut = rest.lastIndexOf('\n\n');
        if (cut < 0) return;
        const complete = rest.slice(0, cut);
        rest = rest.slice(cut + 2);
        for (const block of complete.split('\n\n')) {
          const m = /"bench_sent_ms":([\d.e+-]+)/.exec(block);
          if (m === null) continue;
          out.delays.push(now - Number(m[1]));
          if (block.startsWith('event: content_block_delta')) {
            if (!Number.isNaN(lastDelta)) out.gaps.push(now - lastDelta);
            lastDelta = now;
          }
          if (block.startsWith('event: message_stop')) out.complete = true;
        }
      });
      res.on('end', () => resolve(out));
      res.on('error', () => resolve(out));
    });
    req.on('timeout', () => req.destroy());
    req.on('error', () => resolve(out));
    req.end(t.body, () => {
      sent = performance.now();
    });
  });
}

/** Streams `streams` responses one after another through a hop and times every event. */
export async function timeStreams(
  t: StreamTarget,
  opts: { streams: number; events: number; spacingMs: number },
): Promise<StreamTiming> {
  const agent = new Agent({ keepAlive: true, maxSockets: 1 });
  const ttfbs: number[] = [];
  const delays: number[] = [];
  const gaps: number[] = [];
  let errors = 0;
  try {
    await oneStream(t, agent, 3, 5); // warm the connection and the hop's code path
    for (let s = 0; s < opts.streams; s++) {
      const r = await oneStream(t, agent, opts.events, opts.spacingMs);
      if (!r.complete) errors++;
      if (!Number.isNaN(r.ttfb)) ttfbs.push(r.ttfb);
      delays.push(...r.delays);
      gaps.push(...r.gaps);
    }
  } finally {
    agent.destroy();
  }
  const dev = gaps.map((g) => Math.abs(g - opts.spacingMs));
  return {
    streams: opts.streams,
    events: delays.length,
    ttfbMs: median(ttfbs),
    delayP50Ms: percentile(delays, 50),
    delayP99Ms: percentile(delays, 99),
    delayMaxMs: percentile(delays, 100),
    gapDevP50Ms: percentile(dev, 50),
    gapDevP99Ms: percentile(dev, 99),
    gapMeanMs: gaps.length === 0 ? Number.NaN : gaps.reduce((a, b) => a + b, 0) / gaps.length,
    errors,
  };
}

export interface OpenStreams {
  /** Streams whose first event arrived (all of them, unless the hop queued or refused some). */
  readonly open: number;
  readonly failed: number;
  readonly secondsToOpen: number;
  /** Completes every stream (the fake ends them) and waits for the clients. */
  finish(): Promise<{ completed: number }>;
}

/**
 * Opens `count` streamed responses through a hop at once (own connection each, opened in
 * batches so the listen backlog is not the thing measured) and resolves once all are open or
 * `timeoutMs` has passed.
 */
export async function openStreams(
  t: StreamTarget,
  fake: SseFake,
  count: number,
  timeoutMs: number,
): Promise<OpenStreams> {
  const agent = new Agent({ keepAlive: false, maxSockets: Number.POSITIVE_INFINITY });
  const u = new URL(t.path, t.url);
  const headers = headerList(u, t.headers, {
    'content-length': String(Buffer.byteLength(t.body)),
    'x-bench-stream': '1',
    'x-bench-hold': '1',
  });
  let open = 0;
  let failed = 0;
  let completed = 0;
  const ends: Array<Promise<void>> = [];
  const t0 = performance.now();
  for (let i = 0; i < count; i++) {
    ends.push(
      new Promise<void>((resolve) => {
        let opened = false;
        const req = request(u, { method: 'POST', agent, headers, timeout: timeoutMs + 60_000 }, (res) => {
          if (res.statusCode !== 200) failed++;
          res.on('data', () => {
            if (!opened) {
              opened = true;
              open++;
            }
          });
          res.on('end', () => {
            completed++;
            resolve();
          });
          res.on('error', () => resolve());
        });
        req.on('timeout', () => req.destroy());
        req.on('error', () => {
          failed++;
          resolve();
        });
        req.end(t.body);
      }),
    );
    if (i % 100 === 99) await new Promise((r) => setTimeout(r, 20));
  }
  const deadline = t0 + timeoutMs;
  while (open + failed < count && performance.now() < deadline) await new Promise((r) => setTimeout(r, 25));
  const secondsToOpen = (performance.now() - t0) / 1000;
  return {
    open,
    failed,
    secondsToOpen,
    async finish() {
      fake.releaseAll();
      let timer: NodeJS.Timeout | undefined;
      await Promise.race([Promise.all(ends), new Promise((r) => (timer = setTimeout(r, 30_000)))]);
      clearTimeout(timer);
      agent.destroy();
      return { completed };
    },
  };
}
