import { afterAll, describe, expect, it } from 'vitest';
import { request } from 'undici';
import { anthropicError, defaultResponder, sse, sseEvents, startFakeAnthropic } from '../../src/demo/fake-anthropic.js';
import { API_KEY, OAUTH } from '../helpers/shim.js';
import {
  MiB,
  newClient,
  openSocket,
  postBytes,
  procStats,
  recordFigures,
  secretLeaks,
  startChild,
  until,
  type ProcStats,
} from './_harness.js';

/**
 * Item 5 — soak: the real process under a steady mix of everything an agent pod sends (streams,
 * JSON, token counts, model lists, retryable upstream errors, refusals, aborted streams) for
 * AUTH_SHIM_SOAK_SECONDS (CI default 60; set e.g. 1800 locally). Every response is checked;
 * descriptors and memory are sampled from /proc every few seconds.
 */

const SOAK_SECONDS = Number(process.env['AUTH_SHIM_SOAK_SECONDS'] ?? 60);
const CONCURRENCY = 8;
const SAMPLE_MS = 2_000;
const FD_SLACK = 4;
/** Same heap cap as the injected sidecar (256Mi limit), so the memory bounds mean the same thing. */
const SIDECAR_MEMORY_LIMIT = 256 * MiB;
/** RSS at the end may exceed RSS at the end of the first third by at most this (a plateau, not a climb). */
const RSS_CLIMB_BOUND = 32 * MiB;

const STREAM = '{"model":"claude-sonnet-4-5","stream":true,"max_tokens":64,"messages":[]}';
const TEXT = Array.from({ length: 12 }, (_, i) => `token${i} `);

type Kind = 'stream' | 'json' | 'count' | 'models' | 'model' | 'overloaded' | 'not-found' | 'no-credential' | 'aborted';
const MIX: Kind[] = [
  'stream',
  'stream',
  'stream',
  'json',
  'json',
  'count',
  'models',
  'model',
  'overloaded',
  'not-found',
  'no-credential',
  'aborted',
];

let figures = { requests: 0, faults: 0, failures: 0, leaks: 0, peakRss: 0 };
const started = Date.now();
afterAll(() => {
  recordFigures('5-soak', {
    item: `5. Soak (${SOAK_SECONDS} s, ${CONCURRENCY} concurrent, mixed traffic)`,
    requests: figures.requests,
    faults: figures.faults,
    failures: figures.failures,
    leaks: figures.leaks,
    peakRssBytes: figures.peakRss,
    bound:
      `fds ≤ first sample + ${FD_SLACK}; RSS end ≤ RSS at 1/3 + ${RSS_CLIMB_BOUND / MiB} MiB; ` +
      `peak < ${SIDECAR_MEMORY_LIMIT / MiB} MiB (heap cap 128 MiB)`,
    seconds: Math.round((Date.now() - started) / 1000),
  });
});

describe('item 5: soak (real process)', () => {
  it(
    `${SOAK_SECONDS} s of mixed traffic: no error, descriptors stable, memory plateaus`,
    async () => {
      const fake = await startFakeAnthropic();
      const expectedStream = sseEvents('claude-sonnet-4-5', TEXT);
      fake.respond = async (req, res, raw) => {
        if (req.url.includes('overloaded'))
          return anthropicError(res, 529, 'overloaded_error', 'Overloaded', { 'x-should-retry': 'true' });
        if (req.url.includes('hold'))
          return void res.writeHead(200, { 'content-type': 'text/event-stream' }).write(expectedStream[0]);
        if (req.body.toString() === STREAM) return sse(res, { text: TEXT, spacingMs: 2 });
        return defaultResponder(req, res, raw);
      };
      const proxy = await startChild({ upstream: fake.url });
      const samples: Array<ProcStats & { at: number }> = [];
      const problems: string[] = [];
      const counts = new Map<Kind, number>();

      const one = async (client: ReturnType<typeof newClient>, kind: Kind): Promise<void> => {
        counts.set(kind, (counts.get(kind) ?? 0) + 1);
        const call = async (
          path: string,
          init: { method?: 'GET' | 'POST'; body?: string | null; headers?: Record<string, string> },
        ) => {
          const res = await request(`${proxy.url}${path}`, {
            method: init.method ?? 'POST',
            headers: init.headers ?? { 'x-api-key': OAUTH },
            body: init.body === undefined ? '{}' : init.body,
            dispatcher: client,
          });
          return { status: res.statusCode, text: await res.body.text(), headers: res.headers };
        };
        switch (kind) {
          case 'stream': {
            const r = await call('/v1/messages?beta=true', { body: STREAM });
            if (
              r.status !== 200 ||
              r.text.replace(/"id":"msg_[0-9a-f]+"/, '') !== expectedStream.join('').replace(/"id":"msg_[0-9a-f]+"/, '')
            )
              problems.push(`stream: ${r.status} ${r.text.length} bytes`);
            return;
          }
          case 'json': {
            const r = await call('/v1/messages', {
              headers: { authorization: `Bearer ${API_KEY}` },
              body: '{"model":"claude-sonnet-4-5","max_tokens":8,"messages":[]}',
            });
            if (r.status !== 200 || !r.text.includes('"type":"message"')) problems.push(`json: ${r.status}`);
            return;
          }
          case 'count': {
            const r = await call('/v1/messages/count_tokens', {});
            if (r.status !== 200 || r.text !== '{"input_tokens":42}') problems.push(`count: ${r.status}`);
            return;
          }
          case 'models':
          case 'model': {
            const r = await call(kind === 'models' ? '/v1/models' : '/v1/models/claude-opus-4-1', {
              method: 'GET',
              body: null,
            });
            if (r.status !== 200) problems.push(`${kind}: ${r.status}`);
            return;
          }
          case 'overloaded': {
            const r = await call('/v1/messages?overloaded', {});
            if (r.status !== 529 || !r.text.includes('overloaded_error')) problems.push(`overloaded: ${r.status}`);
            return;
          }
          case 'not-found': {
            const r = await call('/key/generate', {});
            if (r.status !== 404 || r.headers['x-auth-shim-error'] !== 'path_not_allowed')
              problems.push(`not-found: ${r.status}`);
            return;
          }
          case 'no-credential': {
            const r = await call('/v1/messages', { headers: { 'x-api-key': 'placeholder' } });
            if (r.status !== 401 || r.headers['x-should-retry'] !== 'false')
              problems.push(`no-credential: ${r.status}`);
            return;
          }
          case 'aborted': {
            const sock = await openSocket(proxy.port);
            sock.on('error', () => undefined);
            sock.write(postBytes('/v1/messages?hold', STREAM, OAUTH));
            await new Promise<void>((resolve) => {
              sock.on('data', () => resolve());
              sock.on('close', () => resolve());
            });
            sock.destroy();
            return;
          }
        }
      };

      const deadline = Date.now() + SOAK_SECONDS * 1000;
      let i = 0;
      const sampler = setInterval(() => samples.push({ ...procStats(proxy.pid), at: Date.now() }), SAMPLE_MS);
      await Promise.all(
        Array.from({ length: CONCURRENCY }, async () => {
          const client = newClient();
          while (Date.now() < deadline) {
            const kind = MIX[i++ % MIX.length] as Kind;
            try {
              await one(client, kind);
            } catch (err) {
              problems.push(`${kind}: ${String(err)}`);
            }
          }
          await client.close();
        }),
      );
      clearInterval(sampler);
      await until(async () => (await proxy.metrics()).get('auth_shim_inflight_requests') === 0, 10_000, 'idle');
      const end = procStats(proxy.pid);
      const total = [...counts.values()].reduce((a, b) => a + b, 0);
      const faults =
        (counts.get('overloaded') ?? 0) +
        (counts.get('not-found') ?? 0) +
        (counts.get('no-credential') ?? 0) +
        (counts.get('aborted') ?? 0);
      const first = samples[0] ?? end;
      const third = samples[Math.floor(samples.length / 3)] ?? end;
      const peak = Math.max(end.peakRssBytes, ...samples.map((s) => s.peakRssBytes));
      if (end.fds > first.fds + FD_SLACK) problems.push(`fds ${first.fds} → ${end.fds}`);
      if (end.rssBytes > third.rssBytes + RSS_CLIMB_BOUND)
        problems.push(`RSS climbed ${third.rssBytes} → ${end.rssBytes}`);
      if (peak >= SIDECAR_MEMORY_LIMIT) problems.push(`peak RSS ${peak}`);
      const leaks = secretLeaks([proxy.output()]);
      figures = { requests: total, faults, failures: problems.length, leaks: leaks.length, peakRss: peak };
      const mib = (b: number) => (b / MiB).toFixed(1);
      console.log(
        `soak: ${total} requests in ${SOAK_SECONDS} s (${JSON.stringify(Object.fromEntries(counts))}); ` +
          `fds ${samples.map((s) => s.fds).join(',')}; RSS MiB ${samples.map((s) => mib(s.rssBytes)).join(',')}; ` +
          `end ${mib(end.rssBytes)}, peak ${mib(peak)}`,
      );
      await proxy.stop();
      await fake.close();
      expect(problems.slice(0, 20)).toEqual([]);
      expect(leaks).toEqual([]);
    },
    (SOAK_SECONDS + 60) * 1000,
  );
});
