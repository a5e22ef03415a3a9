import { once } from 'node:events';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { request } from 'undici';
import { defaultResponder, sseEvents, startFakeAnthropic, type FakeAnthropic } from '../../src/demo/fake-anthropic.js';
import { OAUTH } from '../helpers/shim.js';
import {
  isAnthropicError,
  MiB,
  newClient,
  openSocket,
  parseResponses,
  postBytes,
  procStats,
  rawExchange,
  recordFigures,
  secretLeaks,
  startChild,
  until,
  type ChildProxy,
} from './_harness.js';

/**
 * Item 2 — clients that misbehave, against the real `auth-shim proxy` process: disconnects at
 * every stage, 10,000 aborted streams, slowloris, oversized headers and bodies, pipelining,
 * methods, `Expect: 100-continue`. Open descriptors, handles (sockets, timers) and memory are read
 * from /proc/<pid> and the process's own /metrics.
 */

const ABORTED_STREAMS = 10_000;
const CONCURRENCY = 200;
const WARMUP = 500;
/** After all aborted streams: descriptors and active handles/resources within this of the baseline. */
const HANDLE_SLACK = 4;
/**
 * Memory: the process runs with the heap cap the injector gives the sidecar for its default 256Mi
 * limit (`NODE_OPTIONS=--max-old-space-size=128 --max-semi-space-size=4`, src/injector/sidecar.ts).
 * V8 enlarges its heap for a burst and keeps the pages, so RSS rises and then plateaus (measured: ~240 MiB after
 * 20,000–50,000 aborted streams, heap used back to ~14 MiB). Bounds: RSS growth over the run at
 * most the heap cap (more would be memory outside the heap piling up), and peak RSS under the
 * sidecar's memory limit.
 */
const SIDECAR_MEMORY_LIMIT = 256 * MiB;
const RSS_GROWTH_BOUND = 128 * MiB;
const MAX_BODY = 4096;
const CLIENT_HEADERS_TIMEOUT_MS = 1_000;
const CLIENT_REQUEST_TIMEOUT_MS = 2_000;
const SLOWLORIS = 20; // slow-header and slow-body connections each

const STREAM = '{"model":"claude-sonnet-4-5","stream":true,"max_tokens":8,"messages":[]}';
const first = sseEvents('claude-sonnet-4-5', ['x'])[0] as string;

let fake: FakeAnthropic;
let proxy: ChildProxy;
/** Upstream responses that ended without finishing (the shim aborted them). */
let upstreamAborted = 0;
let upstreamOpen = 0;
const figures = { requests: 0, faults: 0, failures: [] as string[], leaks: 0, peakRss: 0, notes: [] as string[] };
const started = Date.now();

beforeAll(async () => {
  fake = await startFakeAnthropic();
  fake.server.maxConnections = 10_000;
  fake.respond = (req, res, raw) => {
    if (req.url.includes('hold')) {
      // A stream that never ends by itself: only the client leaving can end it.
      upstreamOpen++;
      res.on('close', () => {
        upstreamOpen--;
        if (!res.writableFinished) upstreamAborted++;
      });
      res.writeHead(200, { 'content-type': 'text/event-stream' });
      res.write(first);
      return;
    }
    if (req.url.includes('wait')) {
      upstreamOpen++;
      res.on('close', () => {
        upstreamOpen--;
        upstreamAborted++;
      });
      return;
    }
    return defaultResponder(req, res, raw);
  };
  proxy = await startChild({
    upstream: fake.url,
    env: {
      AUTH_SHIM_MAX_BODY_BYTES: String(MAX_BODY),
      AUTH_SHIM_CLIENT_HEADERS_TIMEOUT_MS: String(CLIENT_HEADERS_TIMEOUT_MS),
      AUTH_SHIM_CLIENT_REQUEST_TIMEOUT_MS: String(CLIENT_REQUEST_TIMEOUT_MS),
      AUTH_SHIM_UPSTREAM_CONNECTIONS: '256',
    },
  });
});

afterAll(async () => {
  const leaks = secretLeaks([proxy.output()]);
  figures.leaks += leaks.length;
  await proxy.stop();
  await fake.close();
  recordFigures('2-client-faults', {
    item:
      '2. Client faults (disconnects, 10,000 aborted streams, slowloris, 431/413, pipelining, methods, ' +
      '100-continue)',
    requests: figures.requests,
    faults: figures.faults,
    failures: figures.failures.length,
    leaks: figures.leaks,
    peakRssBytes: figures.peakRss,
    bound:
      `${ABORTED_STREAMS} aborted streams at ${CONCURRENCY} concurrent; ` +
      `fds/handles/resources ≤ baseline + ${HANDLE_SLACK}; ` +
      `RSS growth ≤ ${RSS_GROWTH_BOUND / MiB} MiB, peak < ${SIDECAR_MEMORY_LIMIT / MiB} MiB (heap cap 128 MiB); ` +
      `client timeouts ${CLIENT_HEADERS_TIMEOUT_MS}/${CLIENT_REQUEST_TIMEOUT_MS} ms`,
    seconds: Math.round((Date.now() - started) / 1000),
  });
  for (const n of figures.notes) console.log(n);
});

async function normalRequest(): Promise<number> {
  figures.requests++;
  const client = newClient();
  const res = await request(`${proxy.url}/v1/messages`, {
    method: 'POST',
    headers: { 'x-api-key': OAUTH },
    body: '{"model":"m"}',
    dispatcher: client,
  });
  await res.body.text();
  await client.close();
  return res.statusCode;
}

async function idle(): Promise<void> {
  await until(
    async () => (await proxy.metrics()).get('auth_shim_inflight_requests') === 0 && upstreamOpen === 0,
    15_000,
    'no request in flight and no upstream response open',
  );
}

/** One stream opened and abandoned as soon as its first event arrives. */
async function abortedStream(reset: boolean): Promise<void> {
  const sock = await openSocket(proxy.port);
  sock.on('error', () => undefined);
  sock.write(postBytes('/v1/messages?hold', STREAM, OAUTH));
  await new Promise<void>((resolve, reject) => {
    let text = '';
    sock.on('data', (c: Buffer) => {
      text += c.toString('latin1');
      if (text.includes('event: message_start')) resolve();
    });
    sock.on('close', () => reject(new Error(`closed before the first event: ${text.slice(0, 100)}`)));
  });
  // A reset leaves no TIME_WAIT behind on the client side, so 10,000 fit in the port range.
  if (reset) sock.resetAndDestroy();
  else sock.destroy();
}

async function abortMany(n: number): Promise<void> {
  let next = 0;
  await Promise.all(
    Array.from({ length: CONCURRENCY }, async () => {
      while (next < n) {
        const i = next++;
        await abortedStream(i % 10 !== 0);
      }
    }),
  );
}

describe('item 2: client faults (real process)', () => {
  it('disconnect before the body ends, while waiting, mid-stream: upstream aborted, next request served', async () => {
    const before = upstreamAborted;
    // 1. Before the body ends: declared 3000 bytes, 1000 sent, gone.
    const sock = await openSocket(proxy.port);
    sock.write(
      `POST /v1/messages HTTP/1.1\r\nhost: x\r\nx-api-key: ${OAUTH}\r\ncontent-length: 3000\r\n\r\n${'a'.repeat(1000)}`,
    );
    await new Promise((r) => setTimeout(r, 100));
    sock.destroy();
    // 2. During the upstream wait.
    const client = newClient();
    const ac = new AbortController();
    const waiting = request(`${proxy.url}/v1/messages?wait`, {
      method: 'POST',
      headers: { 'x-api-key': OAUTH },
      body: '{}',
      dispatcher: client,
      signal: ac.signal,
    });
    await until(() => upstreamOpen === 1, 5_000, 'request waiting at the upstream');
    ac.abort();
    await expect(waiting).rejects.toThrow();
    // 3. Mid-stream.
    await abortedStream(false);
    await client.close();
    figures.requests += 3;
    figures.faults += 3;
    await idle();
    expect(upstreamAborted - before).toBe(2); // the wait and the stream; the partial body never made a request
    expect(fake.requests.filter((r) => r.body.length === 1000)).toHaveLength(0);
    expect(await normalRequest()).toBe(200);
  });

  it(`${ABORTED_STREAMS} aborted streams leave no sockets or timers; memory plateaus under the limit`, async () => {
    await abortMany(WARMUP);
    await idle();
    const m0 = await proxy.metrics();
    const p0 = procStats(proxy.pid);
    const abortedBefore = upstreamAborted;
    const t0 = Date.now();
    await abortMany(ABORTED_STREAMS / 2);
    const half = procStats(proxy.pid);
    await abortMany(ABORTED_STREAMS / 2);
    const seconds = (Date.now() - t0) / 1000;
    await idle();
    const peakDuring = procStats(proxy.pid).peakRssBytes;
    // Sockets in the shim close as their events are processed; give them a moment to settle.
    await until(
      () => procStats(proxy.pid).fds <= p0.fds + HANDLE_SLACK,
      10_000,
      'descriptors back to the baseline',
    ).catch(() => undefined);
    const m1 = await proxy.metrics();
    const p1 = procStats(proxy.pid);
    figures.requests += WARMUP + ABORTED_STREAMS;
    figures.faults += WARMUP + ABORTED_STREAMS;
    figures.peakRss = Math.max(figures.peakRss, peakDuring);
    const handles = (m: Map<string, number>) => m.get('auth_shim_nodejs_active_handles_total') ?? Number.NaN;
    const heapMiB = (m: Map<string, number>) =>
      ((m.get('auth_shim_nodejs_heap_size_used_bytes') ?? 0) / MiB).toFixed(1);
    const rssMiB = (p: { rssBytes: number }) => (p.rssBytes / MiB).toFixed(1);
    const resources = (m: Map<string, number>) => m.get('auth_shim_nodejs_active_resources_total') ?? Number.NaN;
    figures.notes.push(
      `aborted streams: ${ABORTED_STREAMS} in ${seconds.toFixed(1)} s; ` +
        `fds ${p0.fds}→${p1.fds} (sockets ${p0.sockets}→${p1.sockets}); ` +
        `handles ${handles(m0)}→${handles(m1)}; resources ${resources(m0)}→${resources(m1)}; ` +
        `heap used ${heapMiB(m0)}→${heapMiB(m1)} MiB; ` +
        `RSS ${rssMiB(p0)}→${rssMiB(half)}→${rssMiB(p1)} MiB, peak ${(peakDuring / MiB).toFixed(1)} MiB`,
    );
    const problems: string[] = [];
    if (upstreamAborted - abortedBefore !== ABORTED_STREAMS)
      problems.push(`upstream aborted ${upstreamAborted - abortedBefore} of ${ABORTED_STREAMS}`);
    if (p1.fds > p0.fds + HANDLE_SLACK) problems.push(`fds ${p0.fds} → ${p1.fds}`);
    if (p1.sockets > p0.sockets + HANDLE_SLACK) problems.push(`sockets ${p0.sockets} → ${p1.sockets}`);
    if (!(handles(m1) <= handles(m0) + HANDLE_SLACK)) problems.push(`active handles ${handles(m0)} → ${handles(m1)}`);
    if (!(resources(m1) <= resources(m0) + HANDLE_SLACK))
      problems.push(`active resources (timers included) ${resources(m0)} → ${resources(m1)}`);
    if (p1.rssBytes > p0.rssBytes + RSS_GROWTH_BOUND) problems.push(`RSS grew ${p0.rssBytes} → ${p1.rssBytes}`);
    if (peakDuring >= SIDECAR_MEMORY_LIMIT) problems.push(`peak RSS ${peakDuring} reached the sidecar limit`);
    const requestLines = proxy.shim.stdout.filter((l) => l.includes('"event":"request"')).length;
    if (requestLines < WARMUP + ABORTED_STREAMS) problems.push(`only ${requestLines} request log lines`);
    figures.failures.push(...problems);
    expect(problems).toEqual([]);
    expect(await normalRequest()).toBe(200);
  }, 150_000);

  it(`slowloris: ${SLOWLORIS} slow-header and ${SLOWLORIS} slow-body connections get 408 on timeout`, async () => {
    const p0 = procStats(proxy.pid);
    const requestsBefore = fake.requests.length;
    const slow = async (head: string, drip: string): Promise<{ text: string }> => {
      const sock = await openSocket(proxy.port);
      sock.on('error', () => undefined);
      let text = '';
      sock.on('data', (c: Buffer) => (text += c.toString('latin1')));
      sock.write(head);
      const t = setInterval(() => (sock.destroyed ? clearInterval(t) : sock.write(drip)), 200);
      await once(sock, 'close');
      clearInterval(t);
      return { text };
    };
    const results = await Promise.all([
      ...Array.from({ length: SLOWLORIS }, () => slow('POST /v1/messages HTTP/1.1\r\nhost: x\r\nx-slow: ', 'a')),
      ...Array.from({ length: SLOWLORIS }, () =>
        slow(`POST /v1/messages HTTP/1.1\r\nhost: x\r\nx-api-key: ${OAUTH}\r\ncontent-length: 3000\r\n\r\n`, 'a'),
      ),
    ]);
    figures.requests += results.length;
    figures.faults += results.length;
    const problems: string[] = [];
    for (const [i, r] of results.entries()) {
      if (!r.text.startsWith('HTTP/1.1 408'))
        problems.push(`${i < SLOWLORIS ? 'headers' : 'body'}: ${JSON.stringify(r.text.slice(0, 60))}`);
    }
    await idle();
    // The slow bodies reached the upstream as requests that never completed.
    expect(fake.requests.length).toBe(requestsBefore);
    await until(() => procStats(proxy.pid).fds <= p0.fds + HANDLE_SLACK, 5_000, 'descriptors back').catch((e: Error) =>
      problems.push(e.message),
    );
    figures.failures.push(...problems);
    expect(problems).toEqual([]);
    expect(await normalRequest()).toBe(200);
  }, 30_000);

  it('oversized headers → 431; body over AUTH_SHIM_MAX_BODY_BYTES (declared, chunked) → 413; none sent', async () => {
    const before = fake.requests.length;
    const big = await rawExchange(
      proxy.port,
      `GET /v1/models HTTP/1.1\r\nhost: x\r\nx-api-key: ${OAUTH}\r\nx-big: ${'a'.repeat(20 * 1024)}\r\n\r\n`,
    );
    expect(big.text).toMatch(/^HTTP\/1\.1 431 /);
    const declared = parseResponses(
      (await rawExchange(proxy.port, postBytes('/v1/messages', 'x'.repeat(MAX_BODY + 1), OAUTH))).text,
    );
    const chunkedBody = Array.from({ length: 4 }, () => `600\r\n${'y'.repeat(0x600)}\r\n`).join('');
    const chunked = parseResponses(
      (
        await rawExchange(
          proxy.port,
          `POST /v1/messages HTTP/1.1\r\nhost: x\r\nx-api-key: ${OAUTH}\r\n` +
            `transfer-encoding: chunked\r\n\r\n${chunkedBody}0\r\n\r\n`,
        )
      ).text,
    );
    for (const r of [declared[0], chunked[0]]) {
      expect(r?.status).toBe(413);
      expect(r?.headers['x-should-retry']).toBe('false');
      expect(isAnthropicError(r?.body ?? '')).toBe(true);
      expect(JSON.parse(r?.body ?? '{}')).toMatchObject({ type: 'error', error: { type: 'request_too_large' } });
    }
    // The chunked one streamed past the limit, so the upstream saw a request start and abort, never complete.
    expect(fake.requests.length).toBe(before);
    figures.requests += 3;
    figures.faults += 3;
    expect(await normalRequest()).toBe(200);
  });

  it('pipelined requests are answered in order; invalid methods are refused; Expect: 100-continue works', async () => {
    const before = fake.requests.length;
    const pipelined = [
      `GET /v1/models/one HTTP/1.1\r\nhost: x\r\nx-api-key: ${OAUTH}\r\n\r\n`,
      postBytes('/v1/messages/count_tokens', '{}', OAUTH),
      `GET /v1/models/two HTTP/1.1\r\nhost: x\r\nx-api-key: ${OAUTH}\r\n\r\n`,
    ];
    const p = parseResponses(
      (await rawExchange(proxy.port, pipelined.join(''), { done: (t) => t.includes('"two"') })).text,
    );
    expect(p.map((r) => r.status)).toEqual([200, 200, 200]);
    expect(p[0]?.body).toContain('"one"');
    expect(p[1]?.body).toContain('input_tokens');
    expect(p[2]?.body).toContain('"two"');

    for (const m of ['DELETE', 'PUT', 'PATCH', 'OPTIONS', 'TRACE']) {
      const [r] = parseResponses(
        (
          await rawExchange(
            proxy.port,
            `${m} /v1/messages HTTP/1.1\r\nhost: x\r\nx-api-key: ${OAUTH}\r\ncontent-length: 0\r\n\r\n`,
            { done: (t) => t.includes('}') },
          )
        ).text,
      );
      expect(r?.status, m).toBe(405);
      expect(r?.headers['allow']).toBe('GET, HEAD, POST');
      expect(isAnthropicError(r?.body ?? '')).toBe(true);
    }
    // Not a method at all (and CONNECT, which would open a tunnel): refused by the parser or closed.
    for (const line of ['FOO /v1/messages HTTP/1.1', 'CONNECT 127.0.0.1:443 HTTP/1.1', 'GET\t/v1/models HTTP/1.1']) {
      const r = await rawExchange(proxy.port, `${line}\r\nhost: x\r\nx-api-key: ${OAUTH}\r\n\r\n`);
      expect(r.text === '' || r.text.startsWith('HTTP/1.1 400'), line).toBe(true);
    }
    expect(fake.requests.length).toBe(before + 3);

    const sock = await openSocket(proxy.port);
    sock.write(
      `POST /v1/messages HTTP/1.1\r\nhost: x\r\nx-api-key: ${OAUTH}\r\n` +
        'content-type: application/json\r\ncontent-length: 13\r\nexpect: 100-continue\r\n\r\n',
    );
    const [cont] = (await once(sock, 'data')) as [Buffer];
    expect(cont.toString('latin1')).toMatch(/^HTTP\/1\.1 100 Continue\r\n/);
    sock.write('{"model":"m"}');
    let text = '';
    for await (const c of sock) {
      text += (c as Buffer).toString('latin1');
      if (text.includes('"type":"message"')) break;
    }
    sock.destroy();
    expect(text).toMatch(/^HTTP\/1\.1 200 /);
    expect(fake.requests.at(-1)?.headers['expect']).toBeUndefined();
    expect(fake.requests.at(-1)?.body.toString()).toBe('{"model":"m"}');
    figures.requests += 3 + 5 + 3 + 1;
    figures.faults += 5 + 3;
    figures.peakRss = Math.max(figures.peakRss, procStats(proxy.pid).peakRssBytes);
  });
});
