import { afterEach, describe, expect, it } from 'vitest';
import { Agent, request } from 'undici';
import { startFakeAnthropic, type FakeAnthropic } from '../../../src/demo/fake-anthropic.js';
import { API_KEY, startShim, type Shim } from '../../helpers/shim.js';
import { MiB, procStats, recordFigures, startChild, until } from '../_harness.js';

/**
 * Issue 15, item 4: requests in flight were unbounded — 6,000 concurrent 16 KiB POSTs to a
 * non-answering upstream took the proxy to 284 MiB (default limit 256Mi). Now at most
 * AUTH_SHIM_MAX_INFLIGHT_REQUESTS are proxied at once (`auto`: sized from the V8 heap limit the
 * injector sets); the rest get an Anthropic-shaped 429 with `retry-after`, nothing is forwarded,
 * and the rejection is counted.
 */
const BODY = JSON.stringify({ model: 'claude-sonnet-4-5', pad: 'x'.repeat(16 * 1024 - 60) });

let shim: Shim | undefined;
let fake: FakeAnthropic | undefined;
let release: () => void = () => undefined;
afterEach(async () => {
  release();
  await shim?.close();
  shim = undefined;
  await fake?.close();
  fake = undefined;
});

/** An upstream that reads each request and answers nothing until released. */
async function silentUpstream(): Promise<FakeAnthropic> {
  const f = await startFakeAnthropic();
  const released = new Promise<void>((r) => (release = r));
  f.respond = async (_req, res) => {
    await released;
    res.writeHead(200, { 'content-type': 'application/json' }).end('{"type":"message"}');
  };
  return f;
}

async function post(url: string, client: Agent) {
  const res = await request(`${url}/v1/messages`, {
    method: 'POST',
    headers: { 'x-api-key': API_KEY, 'content-type': 'application/json' },
    body: BODY,
    dispatcher: client,
  });
  return { status: res.statusCode, headers: res.headers, text: await res.body.text() };
}

describe('regression: requests in flight are capped', () => {
  it('over AUTH_SHIM_MAX_INFLIGHT_REQUESTS: 429 rate_limit_error, retry-after, none forwarded, counted', async () => {
    const CAP = 8;
    fake = await silentUpstream();
    shim = await startShim({ upstream: fake, env: { AUTH_SHIM_MAX_INFLIGHT_REQUESTS: String(CAP) } });
    const client = new Agent({ keepAliveTimeout: 10, keepAliveMaxTimeout: 10, connections: 64 });
    const held = Array.from({ length: CAP }, () => post(shim!.proxy.url, client));
    await until(() => fake!.requests.length === CAP, 10_000, 'held requests reach the upstream');

    const over = await Promise.all(Array.from({ length: 4 }, () => post(shim!.proxy.url, client)));
    for (const r of over) {
      expect(r.status).toBe(429);
      expect(r.headers['retry-after']).toBe('1');
      expect(r.headers['x-should-retry']).toBe('true');
      expect(r.headers['x-auth-shim-error']).toBe('too_many_inflight_requests');
      expect(JSON.parse(r.text)).toMatchObject({
        type: 'error',
        error: { type: 'rate_limit_error', message: expect.stringContaining('AUTH_SHIM_MAX_INFLIGHT_REQUESTS') },
      });
    }
    expect(fake.requests).toHaveLength(CAP);
    const metrics = await shim.proxy.registry.metrics();
    expect(metrics).toContain('auth_shim_rejected_requests_total{reason="too_many_inflight_requests"} 4');
    expect(metrics).toContain(`auth_shim_inflight_requests_limit ${CAP}`);

    release();
    expect((await Promise.all(held)).map((r) => r.status)).toEqual(Array.from({ length: CAP }, () => 200));
    expect((await post(shim.proxy.url, client)).status).toBe(200); // slots are given back
    await client.close();
  });

  it('auto: sized from the V8 heap limit; measured RSS with the cap overrun (real process, 256Mi-sidecar flags)', {
    timeout: 180_000,
  }, async () => {
    const t0 = Date.now();
    fake = await silentUpstream();
    const proxy = await startChild({ upstream: fake.url });
    const client = new Agent({ keepAliveTimeout: 10, keepAliveMaxTimeout: 10, connections: 2_000 });
    try {
      const cap = (await proxy.metrics()).get('auth_shim_inflight_requests_limit') ?? 0;
      expect(cap).toBeGreaterThanOrEqual(1_000); // 140 MiB heap / 128 KiB
      expect(cap).toBeLessThanOrEqual(1_200);
      const total = cap + 300;
      const before = procStats(proxy.pid).rssBytes;
      const all = Array.from({ length: total }, () =>
        post(proxy.url, client).catch((err: unknown) => ({ status: 0, headers: {}, text: String(err) })),
      );
      await until(() => fake!.requests.length === cap, 60_000, 'the capped requests reach the upstream').catch(
        (err: unknown) => {
          throw new Error(`${String(err)}: ${fake!.requests.length} of ${cap}`);
        },
      );
      let rejected = 0;
      await until(
        async () => {
          const text = await (await request(`${proxy.admin}/metrics`, { dispatcher: client })).body.text();
          rejected = Number(
            /^auth_shim_rejected_requests_total\{reason="too_many_inflight_requests"\} (\d+)$/m.exec(text)?.[1] ?? 0,
          );
          return rejected >= 300;
        },
        60_000,
        'the requests over the cap are refused',
      );
      const during = procStats(proxy.pid);
      expect(fake.requests).toHaveLength(cap);
      release();
      const statuses = (await Promise.all(all)).map((r) => r.status);
      expect(statuses.filter((s) => s === 429)).toHaveLength(300);
      expect(statuses.filter((s) => s === 200)).toHaveLength(cap);
      console.log(
        `inflight cap ${cap}: RSS ${Math.round(before / MiB)} → ${Math.round(during.rssBytes / MiB)} MiB ` +
          `with ${cap} held and 300 refused`,
      );
      recordFigures('15-4-inflight-cap', {
        item: '15.4 In-flight cap (auto) against a non-answering upstream',
        requests: total,
        faults: cap,
        failures: statuses.filter((s) => s !== 200 && s !== 429).length,
        leaks: 0,
        peakRssBytes: during.peakRssBytes,
        bound: `${cap} held (the derived cap), 300 over it answered 429`,
        seconds: Math.round((Date.now() - t0) / 1000),
      });
    } finally {
      release();
      await client.close();
      await proxy.stop();
    }
  });
});
