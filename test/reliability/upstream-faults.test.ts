import { once } from 'node:events';
import { writeFile, unlink } from 'node:fs/promises';
import { createServer } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { request, type Agent } from 'undici';
import { sseEvents, startFakeAnthropic } from '../../src/demo/fake-anthropic.js';
import { OAUTH } from '../helpers/shim.js';
import {
  isAnthropicError,
  MiB,
  newClient,
  procStats,
  recordFigures,
  secretLeaks,
  startChild,
  startRawUpstream,
  until,
  type ChildProxy,
  type RawUpstream,
} from './_harness.js';

/**
 * Item 1 — upstream faults against the real `auth-shim proxy` process. Every fault must give the
 * client a prompt, Anthropic-shaped, retryable error (or a clean `event: error` in a stream, or a
 * failed connection where appending an event would corrupt the body), and the next request after
 * it must be served normally.
 */

const REPEAT = 5; // each fault injected this many times, each followed by a normal request
const TIMEOUT_MS = 1_000; // upstream headers and body timeouts of the process under test
const FD_SLACK = 4; // open descriptors after the run may exceed the baseline by at most this

/** What the client saw. */
type Outcome =
  | { kind: 'ok'; status: number; text: string }
  | { kind: 'error'; status: number; code: string; retry: string; text: string }
  | { kind: 'event-error'; status: number; text: string }
  | { kind: 'cut' };

const STREAM = '{"model":"claude-sonnet-4-5","stream":true,"max_tokens":8,"messages":[]}';
const JSON_BODY = '{"model":"claude-sonnet-4-5","max_tokens":8,"messages":[]}';

async function call(client: Agent, url: string, query: string, body = STREAM): Promise<Outcome> {
  try {
    const res = await request(`${url}/v1/messages?beta=true${query}`, {
      method: 'POST',
      headers: { 'x-api-key': OAUTH, 'content-type': 'application/json' },
      body,
      dispatcher: client,
    });
    const text = await res.body.text();
    const code = res.headers['x-auth-shim-error'];
    if (typeof code === 'string') {
      return { kind: 'error', status: res.statusCode, code, retry: String(res.headers['x-should-retry']), text };
    }
    if (/event: error\ndata: \{"type":"error"/.test(text)) return { kind: 'event-error', status: res.statusCode, text };
    return { kind: 'ok', status: res.statusCode, text };
  } catch {
    return { kind: 'cut' };
  }
}

/** A correct answer from a faulty upstream: `error` with this code and retry, an event, or a cut. */
function expectError(o: Outcome, status: number, code: string): string[] {
  if (o.kind !== 'error') return [`expected ${status} ${code}, got ${o.kind}`];
  const problems: string[] = [];
  if (o.status !== status) problems.push(`status ${o.status} != ${status}`);
  if (o.code !== code) problems.push(`code ${o.code} != ${code}`);
  if (o.retry !== 'true') problems.push(`x-should-retry ${o.retry}`);
  if (!isAnthropicError(o.text)) problems.push(`not Anthropic-shaped: ${o.text.slice(0, 100)}`);
  return problems;
}

function expectEventError(o: Outcome, prefix: string): string[] {
  if (o.kind !== 'event-error') return [`expected event: error, got ${o.kind}`];
  if (!o.text.startsWith(prefix)) return ['the bytes before the error event were changed'];
  if (
    !/\n\nevent: error\ndata: \{"type":"error","error":\{"type":"api_error","message":"auth-shim: [^"]*"\}\}\n\n$/.test(
      o.text,
    )
  ) {
    return [`the stream does not end with one clean error event: ${JSON.stringify(o.text.slice(-200))}`];
  }
  return [];
}

function expectOk(o: Outcome): string[] {
  return o.kind === 'ok' && o.status === 200
    ? []
    : [`the next request after a fault was not served normally: ${JSON.stringify(o).slice(0, 200)}`];
}

/** After a fault: REPEAT ordinary requests, each of which must succeed; returns the problems. */
async function serveNormally(client: Agent, url: string): Promise<string[]> {
  const problems: string[] = [];
  for (let i = 0; i < REPEAT; i++) {
    figures.requests++;
    problems.push(...expectOk(await call(client, url, '', JSON_BODY)));
  }
  return problems;
}

const events = sseEvents('claude-sonnet-4-5', ['Hello', ' world']);
/**
 * Streams are chunked, as LiteLLM (uvicorn) sends them. A close-delimited body (no length, no
 * chunking) cannot be told from a complete one when the connection ends (RFC 9112 §6.3 rule 8;
 * undici treats even a reset as the end there) — see docs/RELIABILITY.md, known limits.
 */
const sseHead =
  'HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\nrequest-id: req_fault\r\n' +
  'transfer-encoding: chunked\r\nconnection: close\r\n';
const chunk = (s: string): string => `${Buffer.byteLength(s).toString(16)}\r\n${s}\r\n`;

/** Each scripted fault: what the raw upstream does, and what the client must see. */
const FAULTS: Record<string, { body?: string; act: (sock: Socket) => void; check: (o: Outcome) => string[] }> = {
  'slow headers': {
    // The status line arrives, then one header byte every 300 ms: never complete within the timeout.
    act: (sock) => {
      sock.write('HTTP/1.1 200 OK\r\nx-slow: ');
      const t = setInterval(() => (sock.destroyed ? clearInterval(t) : sock.write('a')), 300);
      sock.on('close', () => clearInterval(t));
    },
    check: (o) => expectError(o, 504, 'upstream_headers_timeout'),
  },
  'slow body (stream)': {
    act: (sock) => void sock.write(`${sseHead}\r\n${chunk(events[0] as string)}`),
    check: (o) => expectEventError(o, events[0] as string),
  },
  'slow body (JSON, Content-Length)': {
    body: JSON_BODY,
    act: (sock) =>
      void sock.write('HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: 100\r\n\r\n{"id":"msg_'),
    // A framed body cannot carry an error event: the client must see a failed response.
    check: (o) => (o.kind === 'cut' ? [] : [`expected a failed connection, got ${o.kind}`]),
  },
  'reset before headers': {
    act: (sock) => void sock.resetAndDestroy(),
    check: (o) => expectError(o, 502, 'upstream_reset'),
  },
  'reset mid-stream': {
    act: (sock) =>
      void sock.write(`${sseHead}\r\n${chunk(events[0] as string)}${chunk(events[1] as string)}`, () =>
        setTimeout(() => sock.resetAndDestroy(), 20),
      ),
    check: (o) => expectEventError(o, `${events[0]}${events[1]}`),
  },
  'truncated chunked body (stream)': {
    // Chunked framing, one chunk, then FIN without the last-chunk (RFC 9112 §7.1): incomplete.
    act: (sock) => {
      sock.write(`${sseHead}\r\n${chunk(events[0] as string)}`, () => setTimeout(() => sock.end(), 20));
    },
    check: (o) => expectEventError(o, events[0] as string),
  },
  'truncated chunked body (JSON)': {
    body: JSON_BODY,
    act: (sock) =>
      void sock.write(
        'HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ntransfer-encoding: chunked\r\nconnection: close\r\n\r\n' +
          'b\r\n{"id":"msg_\r\n',
        () => setTimeout(() => sock.end(), 20),
      ),
    // Not SSE, so no event can be appended; the client must not see a complete-looking body.
    check: (o) => (o.kind === 'cut' ? [] : [`expected a failed connection, got ${o.kind}`]),
  },
  'garbage instead of HTTP': {
    act: (sock) => void sock.end('SSH-2.0-OpenSSH_9.6\r\n\x00\x01\x02garbage\r\n\r\n'),
    check: (o) => expectError(o, 502, 'upstream_protocol_error'),
  },
  'huge response header (256 KiB)': {
    act: (sock) => void sock.end(`HTTP/1.1 200 OK\r\nx-huge: ${'a'.repeat(256 * 1024)}\r\ncontent-length: 0\r\n\r\n`),
    check: (o) => expectError(o, 502, 'upstream_protocol_error'),
  },
  'upstream never answers': {
    act: () => undefined,
    check: (o) => expectError(o, 504, 'upstream_headers_timeout'),
  },
};

function normal(sock: Socket): void {
  const body = JSON.stringify({ id: 'msg_ok', type: 'message', role: 'assistant', content: [] });
  sock.end(
    `HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: ${body.length}\r\n` +
      `connection: close\r\n\r\n${body}`,
  );
}

const figures = { requests: 0, faults: 0, failures: [] as string[], leaks: 0, peakRss: 0 };
const started = Date.now();
const children: ChildProxy[] = [];
const servers: Array<{ close(): Promise<void> }> = [];

afterAll(async () => {
  for (const c of children) await c.stop();
  for (const s of servers) await s.close();
  recordFigures('1-upstream-faults', {
    item: '1. Upstream faults (12 kinds incl. DNS failure, refused, LiteLLM restart)',
    requests: figures.requests,
    faults: figures.faults,
    failures: figures.failures.length,
    leaks: figures.leaks,
    peakRssBytes: figures.peakRss,
    bound: `${REPEAT}× each scripted fault; upstream timeouts ${TIMEOUT_MS} ms; fds ≤ baseline + ${FD_SLACK}`,
    seconds: Math.round((Date.now() - started) / 1000),
  });
});

function track(c: ChildProxy): ChildProxy {
  children.push(c);
  return c;
}

function peak(c: ChildProxy): void {
  figures.peakRss = Math.max(figures.peakRss, procStats(c.pid).peakRssBytes);
}

describe('item 1: upstream faults (real process)', () => {
  it(`scripted faults, ${REPEAT}× each, each followed by a normal request`, async () => {
    let script: (sock: Socket) => void = normal;
    const upstream: RawUpstream = await startRawUpstream((sock, head) => {
      const fault = /[?&]fault=([a-z-]+)/.exec(head)?.[1];
      if (fault === undefined) normal(sock);
      else script(sock);
    });
    servers.push(upstream);
    const proxy = track(
      await startChild({
        upstream: upstream.url,
        env: {
          AUTH_SHIM_UPSTREAM_HEADERS_TIMEOUT_MS: String(TIMEOUT_MS),
          AUTH_SHIM_UPSTREAM_BODY_TIMEOUT_MS: String(TIMEOUT_MS),
        },
      }),
    );
    const client = newClient();
    const seen: string[] = [];
    // Warm up, then the descriptor baseline.
    for (let i = 0; i < 3; i++) expect(expectOk(await call(client, proxy.url, '', JSON_BODY))).toEqual([]);
    await until(async () => (await proxy.metrics()).get('auth_shim_inflight_requests') === 0, 5_000, 'idle');
    const baseline = procStats(proxy.pid);

    const problems: string[] = [];
    for (const [name, fault] of Object.entries(FAULTS)) {
      script = fault.act;
      // The same fault concurrently and in sequence.
      const outcomes = await Promise.all(
        Array.from({ length: REPEAT }, () => call(client, proxy.url, '&fault=x', fault.body ?? STREAM)),
      );
      for (const o of outcomes) {
        figures.requests++;
        figures.faults++;
        if (o.kind !== 'cut') seen.push(o.text);
        for (const p of fault.check(o)) problems.push(`${name}: ${p}`);
      }
      for (const p of await serveNormally(client, proxy.url)) problems.push(`${name}: ${p}`);
    }
    await client.close();
    for (const s of upstream.accepted) s.destroy();
    await until(
      async () => (await proxy.metrics()).get('auth_shim_inflight_requests') === 0,
      5_000,
      'no request left in flight',
    );
    await until(
      () => procStats(proxy.pid).fds <= baseline.fds + FD_SLACK,
      5_000,
      `descriptors back to ${baseline.fds} + ${FD_SLACK}`,
    ).catch((e: Error) => problems.push(e.message));
    peak(proxy);
    const leaks = secretLeaks([...seen, proxy.output()]);
    figures.leaks += leaks.length;
    figures.failures.push(...problems);
    expect(problems).toEqual([]);
    expect(leaks).toEqual([]);
  }, 90_000);

  it('refused connection → 502 upstream_unreachable (after one connect retry); served once it is up', async () => {
    const probe = createServer();
    probe.listen(0, '127.0.0.1');
    await once(probe, 'listening');
    const port = (probe.address() as AddressInfo).port;
    await new Promise<void>((r) => probe.close(() => r()));
    const proxy = track(await startChild({ upstream: `http://127.0.0.1:${port}` }));
    const client = newClient();
    const problems: string[] = [];
    for (let i = 0; i < REPEAT; i++) {
      figures.requests++;
      figures.faults++;
      const o = await call(client, proxy.url, '');
      problems.push(...expectError(o, 502, 'upstream_unreachable'));
      if (o.kind === 'error' && !o.text.includes('ECONNREFUSED')) problems.push('the error does not say ECONNREFUSED');
    }
    const fake = await startFakeAnthropic();
    await fake.close();
    fake.server.listen({ host: '127.0.0.1', port });
    await once(fake.server, 'listening');
    servers.push(fake);
    problems.push(...(await serveNormally(client, proxy.url)));
    await client.close();
    peak(proxy);
    figures.failures.push(...problems);
    expect(problems).toEqual([]);
  }, 30_000);

  it('DNS failure (ENOTFOUND for a .invalid name, no query leaves the host) → 502; served once resolved', async () => {
    const fake = await startFakeAnthropic();
    servers.push(fake);
    const port = new URL(fake.url).port;
    const preload = fileURLToPath(new URL('./_dns-preload.mjs', import.meta.url));
    const proxy = track(
      await startChild({
        upstream: `http://litellm.reliability.invalid:${port}/`,
        nodeArgs: ['--import', preload],
        env: { RELIABILITY_DNS_FAIL_FILE: '{dir}/dns-down' },
        files: { 'dns-down': '' },
      }),
    );
    const client = newClient();
    const problems: string[] = [];
    for (let i = 0; i < REPEAT; i++) {
      figures.requests++;
      figures.faults++;
      const o = await call(client, proxy.url, '');
      problems.push(...expectError(o, 502, 'upstream_unreachable'));
      if (o.kind === 'error' && !o.text.includes('ENOTFOUND'))
        problems.push(`the error does not say ENOTFOUND: ${o.text}`);
    }
    await unlink(join(proxy.dir, 'dns-down'));
    problems.push(...(await serveNormally(client, proxy.url)));
    // The name reached the upstream as the Host header, resolved by the preload to loopback.
    expect(fake.requests.at(-1)?.headers['host']).toEqual([`litellm.reliability.invalid:${port}`]);
    await writeFile(join(proxy.dir, 'dns-down'), '');
    await client.close();
    peak(proxy);
    figures.failures.push(...problems);
    expect(problems).toEqual([]);
  }, 30_000);

  it('LiteLLM restarting (closed and re-opened on the same port) while 40 requests are in flight', async () => {
    const fake = await startFakeAnthropic();
    servers.push(fake);
    const port = Number(new URL(fake.url).port);
    let released = false;
    const all = sseEvents('claude-sonnet-4-5', ['a', 'b', 'c', 'd']);
    fake.respond = async (req, res) => {
      if (released) {
        res.writeHead(200, { 'content-type': 'application/json', 'content-length': 2 }).end('{}');
        return;
      }
      if (req.url.includes('wait')) return; // waiting for headers when the restart comes
      res.writeHead(200, { 'content-type': 'text/event-stream' });
      res.write(all[0]); // streaming when the restart comes
    };
    const proxy = track(await startChild({ upstream: fake.url }));
    const client = newClient();
    const inflight = [
      ...Array.from({ length: 20 }, () => call(client, proxy.url, '&stream')),
      ...Array.from({ length: 20 }, () => call(client, proxy.url, '&wait')),
    ];
    await until(() => fake.requests.length === 40, 10_000, '40 requests at the upstream');
    await fake.close(); // the restart: every connection dropped, the port closed
    // Requests while it is down: refused, retried once, then a retryable 502.
    const during = await Promise.all(Array.from({ length: 10 }, () => call(client, proxy.url, '')));
    released = true;
    fake.server.listen({ host: '127.0.0.1', port });
    await once(fake.server, 'listening');
    const results = await Promise.all(inflight);
    const problems: string[] = [];
    for (const [i, o] of results.entries()) {
      figures.requests++;
      figures.faults++;
      if (i < 20) problems.push(...expectEventError(o, all[0] as string));
      else problems.push(...expectError(o, 502, 'upstream_reset'));
    }
    for (const o of during) {
      figures.requests++;
      figures.faults++;
      problems.push(...expectError(o, 502, 'upstream_unreachable'));
    }
    for (let i = 0; i < 20; i++) {
      figures.requests++;
      problems.push(...expectOk(await call(client, proxy.url, '', JSON_BODY)));
    }
    await client.close();
    peak(proxy);
    const leaks = secretLeaks([proxy.output()]);
    figures.leaks += leaks.length;
    figures.failures.push(...problems);
    expect(problems).toEqual([]);
    expect(leaks).toEqual([]);
    expect(procStats(proxy.pid).rssBytes).toBeLessThan(256 * MiB);
  }, 30_000);
});
